package admission

import "fmt"

// State is the QRF posture. The names are lockd v0.9's: they are sent in
// X-Lockd-QRF-State and clients may branch on them.
type State uint8

const (
	// Disengaged: all clear, nothing is paced.
	Disengaged State = iota
	// SoftArm: early warning; producers, lock and query work are paced
	// lightly (Config.SoftDelay).
	SoftArm
	// Engaged: a hard limit was crossed; producers, lock and query work
	// are paced hard (Config.EngagedDelay), consumers only when the
	// consumer guard is what tripped.
	Engaged
	// Recovery: the metrics are healthy again after Engaged; pacing
	// relaxes (Config.RecoveryDelay) until Config.RecoverySamples healthy
	// samples in a row disengage.
	Recovery
)

var stateNames = [...]string{"disengaged", "soft_arm", "engaged", "recovery"}

// String returns the wire name (disengaged, soft_arm, engaged, recovery).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// Kind groups routes as lockd v0.9's LSF counts them.
type Kind uint8

const (
	// KindNone is not counted and never paced (health checks, the TC's
	// cluster routes).
	KindNone Kind = iota
	// KindQueueProducer is enqueue and DLQ requeue.
	KindQueueProducer
	// KindQueueConsumer is dequeue, subscribe and watch.
	KindQueueConsumer
	// KindQueueAck is ack, nack and extend.
	KindQueueAck
	// KindLock is lease and state work: acquire, keepalive, release, get,
	// update, mutate, remove, metadata, attachments, transactions.
	KindLock
	// KindQuery is /v1/query and the other index and stats reads.
	KindQuery
	numKinds
)

var kindNames = [...]string{"none", "queue_producer", "queue_consumer", "queue_ack", "lock", "query"}

// String returns the kind's metric label.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Class is how a route is admitted: the kind it counts as, and whether it
// drains (frees leases, settles messages), in which case it is counted but
// never paced or refused.
type Class struct {
	Kind  Kind
	Drain bool
}

// Level is how far a sample breaches the limits.
type Level uint8

const (
	// Clear: below every soft limit.
	Clear Level = iota
	// Soft: at or past a soft limit.
	Soft
	// Hard: at or past a hard limit.
	Hard
)
