package queues

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/names"
)

// DLQSuffix turns a queue name into the name of its dead-letter queue.
// Queue names cannot contain ':', so "orders:dlq" never clashes with a
// user's queue.
const DLQSuffix = ":dlq"

// Ref names a queue, or with DLQ set, the queue's dead-letter queue.
type Ref struct {
	Namespace string
	Queue     string // the base queue name, without DLQSuffix
	DLQ       bool
}

// Name is the queue name as clients address it ("orders" or "orders:dlq").
func (r Ref) Name() string {
	if r.DLQ {
		return r.Queue + DLQSuffix
	}
	return r.Queue
}

// Base is the ref of the queue itself (not its DLQ).
func (r Ref) Base() Ref { return Ref{Namespace: r.Namespace, Queue: r.Queue} }

// ParseName validates a queue name as clients send it; a DLQSuffix selects
// the queue's dead-letter queue.
func ParseName(q string) (name string, dlq bool, err error) {
	q = strings.TrimSpace(q)
	if base, ok := strings.CutSuffix(q, DLQSuffix); ok {
		q, dlq = base, true
	}
	name, err = names.Queue(q)
	if err != nil {
		return "", false, fmt.Errorf("invalid queue name: %w", err)
	}
	return name, dlq, nil
}

// NackIntent says whether a nack counts as a failed attempt.
type NackIntent string

// Nack intents.
const (
	// IntentFailure counts toward max_attempts (the default).
	IntentFailure NackIntent = "failure"
	// IntentDefer returns the message without counting a failure.
	IntentDefer NackIntent = "defer"
)

// Dead-letter reasons.
const (
	ReasonMaxAttempts = "max_attempts_exceeded"
	ReasonExpired     = "ttl_expired"
)

// EnqueueRequest is a message to add. The payload is streamed: see
// Service.Prepare.
type EnqueueRequest struct {
	Ref
	// Delay before the first delivery (<= 0: none).
	Delay time.Duration
	// Visibility is the default visibility timeout of deliveries
	// (<= 0: the service default).
	Visibility time.Duration
	// TTL after which an undelivered message moves to the DLQ (<= 0: none).
	TTL time.Duration
	// MaxAttempts is how many failures move the message to the DLQ
	// (<= 0: the service default).
	MaxAttempts   int
	Attributes    json.RawMessage // a JSON object, or nil
	ContentType   string
	CorrelationID string
}

// EnqueueResult describes an enqueued message.
type EnqueueResult struct {
	Ref
	ID              string
	MaxAttempts     int
	NotVisibleUntil time.Time
	Visibility      time.Duration
	Size            int64
	CorrelationID   string
}

// DequeueRequest asks for up to Max messages.
type DequeueRequest struct {
	Ref
	Owner string
	// Visibility of the deliveries (<= 0: each message's own default).
	Visibility time.Duration
	// Wait is how long to wait for a message (0 = answer at once).
	Wait time.Duration
	// Max is the page size (default 1).
	Max int
	// TxnID is recorded on the deliveries (empty mints one per delivery).
	TxnID string
	// Stateful also leases each message's workflow state (needs a
	// StateLeaser).
	Stateful bool
	// WhileBlocked, when set, is called once the dequeue actually waits
	// (no message was ready); the wait ends early when the returned context
	// does (the consumer went away), and the returned func is called when
	// the wait is over. A dequeue answered at once never calls it.
	WhileBlocked func() (context.Context, func())
	// Delivered, if set, is called when deliveries made after waiting go
	// to the caller; its abandon hands them back (actors.Blocking).
	Delivered func(abandon func())
}

// Proof identifies a delivery: what ack, nack and extend present.
type Proof struct {
	LeaseID string
	Fencing uint64
	TxnID   string // checked when set
	// MetaETag is checked when set (required by nack and extend at the
	// edge).
	MetaETag string
}

// StateProof identifies a workflow-state lease (dequeueWithState).
type StateProof struct {
	LeaseID string
	Fencing uint64
}

// AckRequest confirms a delivery: the message is deleted.
type AckRequest struct {
	Ref
	ID    string
	Proof Proof
	State *StateProof // also release (and delete) the workflow state
}

// AckResult reports an ack.
type AckResult struct {
	CorrelationID string
}

// NackRequest returns a delivery to the queue.
type NackRequest struct {
	Ref
	ID        string
	Proof     Proof
	Intent    NackIntent // "" = failure
	Delay     time.Duration
	LastError json.RawMessage // recorded for failures
	State     *StateProof     // also release the workflow state (committing it)
}

// NackResult reports a nack.
type NackResult struct {
	MetaETag      string // "" when the message moved to the DLQ
	DeadLettered  bool
	CorrelationID string
}

// ExtendRequest extends a delivery's visibility to now + By.
type ExtendRequest struct {
	Ref
	ID    string
	Proof Proof
	By    time.Duration // <= 0: the message's visibility timeout
	State *StateProof   // also extend the workflow-state lease
}

// ExtendResult reports an extension.
type ExtendResult struct {
	LeaseExpires      time.Time
	Visibility        time.Duration
	MetaETag          string
	StateLeaseExpires time.Time // zero without State
	CorrelationID     string
}

// Message is a message's metadata as a consumer or an operator sees it.
type Message struct {
	Ref
	ID              string
	Attempts        int
	FailureAttempts int
	MaxAttempts     int
	EnqueuedAt      time.Time
	NotVisibleUntil time.Time
	Visibility      time.Duration
	ExpiresAt       time.Time // zero: no TTL
	Attributes      json.RawMessage
	ContentType     string
	Size            int64
	CorrelationID   string
	LastError       json.RawMessage
	// Delivery, when the message is in flight.
	Owner        string
	LeaseID      string
	TxnID        string
	LeaseExpires time.Time
	Fencing      uint64
	MetaETag     string
	// Dead-letter information (DLQ only).
	DeadReason string
	DeadAt     time.Time
	// State is the workflow-state lease of a stateful delivery.
	State *StateLease
}

// StateLease is a lease on a message's workflow state key.
type StateLease struct {
	Key       string
	LeaseID   string
	TxnID     string
	Fencing   uint64
	ExpiresAt time.Time
	ETag      string // committed state etag ("" = no state yet)
}

// Stats is a side-effect-free snapshot of a queue (or DLQ).
type Stats struct {
	Ref
	Ready, Delayed, InFlight int
	DeadLetters              int // messages in the queue's DLQ
	Waiting                  int // blocked dequeue calls
	Subscribers              int
	Watchers                 int
	// TotalConsumers counts waiting dequeues and subscriptions across all
	// queues of this service.
	TotalConsumers int64
	Head           *Message // the next message to deliver, if any
}

// Event is a change in a queue's availability (watch).
type Event struct {
	Ref
	Available bool
	HeadID    string
	Ready     int
	InFlight  int
	ChangedAt time.Time
}

// DLQPage is a page of dead letters, oldest first.
type DLQPage struct {
	Messages []Message
	// Next is the cursor for the next page ("" = no more).
	Next string
}

// RequeueRequest moves dead letters back into their queue.
type RequeueRequest struct {
	Ref          // the base queue (DLQ is implied)
	IDs []string // messages to requeue
	All bool     // requeue every dead letter not in flight
	// Delay before the requeued messages become visible.
	Delay time.Duration
}

// RequeueResult reports a requeue.
type RequeueResult struct {
	Requeued []string
	// Skipped lists ids that were not found or are being delivered from
	// the DLQ right now.
	Skipped []string
}
