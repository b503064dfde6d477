package queues

import (
	"encoding/json"
	"strings"
	"time"
)

// record is the persisted state of one message (codec.go: binary, or JSON
// as earlier builds wrote it). Times are unix nanoseconds.
type record struct {
	ID          string `json:"id"`
	EnqueuedAt  int64  `json:"enqueued_at"`
	VisibleAt   int64  `json:"not_visible_until"`
	Visibility  int64  `json:"visibility_ns,omitempty"`
	ExpiresAt   int64  `json:"expires_at,omitempty"`
	MaxAttempts int    `json:"max_attempts"`
	Attempts    int    `json:"attempts"`
	Failures    int    `json:"failure_attempts"`
	// INVARIANT: Fencing is the last token granted; it never decreases.
	Fencing       uint64          `json:"fencing"`
	Lease         *leaseRec       `json:"lease,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Attributes    json.RawMessage `json:"attributes,omitempty"`
	ContentType   string          `json:"content_type,omitempty"`
	Size          int64           `json:"size"`
	Inline        []byte          `json:"inline,omitempty"`
	Blob          string          `json:"blob,omitempty"`
	LastError     json.RawMessage `json:"last_error,omitempty"`
	Dead          *deadRec        `json:"dead,omitempty"`
}

// leaseRec is the current delivery of an in-flight message.
type leaseRec struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Txn     string `json:"txn"`
	Expires int64  `json:"expires"`
	Fencing uint64 `json:"fencing"`
	// Visibility is the delivery's visibility timeout in nanoseconds.
	Visibility int64 `json:"visibility_ns"`
}

// deadRec says why and when a message moved to the DLQ.
type deadRec struct {
	Reason string `json:"reason"`
	At     int64  `json:"at"`
}

// ttlExpired reports whether the message's time to live ran out at now.
func (r *record) ttlExpired(now time.Time) bool {
	return r.ExpiresAt > 0 && now.UnixNano() >= r.ExpiresAt
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// keys names a queue's records and blobs.
type keys struct{ base string }

func keysFor(r Ref) keys { return keys{base: r.Namespace + "/q/" + r.Queue} }

// prefix is the record prefix of the main lane or the DLQ.
func (k keys) prefix(dlq bool) string {
	if dlq {
		return k.base + ":d/"
	}
	return k.base + ":m/"
}

func (k keys) record(dlq bool, id string) string { return k.prefix(dlq) + id }

func (k keys) blob(id string) string { return k.base + ":p/" + id }

// StateKey is the keyspace key of a message's workflow state, as lockd
// v0.9 names it: "q/QUEUE/state/ID" in the queue's namespace.
func StateKey(queue, id string) string { return "q/" + queue + "/state/" + id }

// StateQueue is the inverse of StateKey: the queue whose message state key
// is, if it is one. In a cluster a message's state lives on its queue's
// node, which leases it.
func StateQueue(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "q/")
	if !ok {
		return "", false
	}
	queue, id, ok := strings.Cut(rest, "/state/")
	if !ok || queue == "" || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return queue, true
}
