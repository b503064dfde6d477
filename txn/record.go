package txn

import (
	"encoding/json"
	"fmt"

	"github.com/lockdhq/lockd/store"
)

// State is a transaction's decision.
type State string

// Transaction states.
const (
	Pending  State = "pending"
	Commit   State = "commit"
	Rollback State = "rollback"
)

// Decided reports whether s is a final decision.
func (s State) Decided() bool { return s == Commit || s == Rollback }

// Participant is one member of a transaction: a key, or (Kind "message") a
// dequeued message whose ack or nack follows the decision.
type Participant struct {
	Kind      string `json:"kind,omitempty"` // "" = key, "message"
	Namespace string `json:"namespace"`
	Key       string `json:"key,omitempty"`
	Queue     string `json:"queue,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	LeaseID   string `json:"lease_id,omitempty"`
	Fencing   uint64 `json:"fencing,omitempty"`
	MetaETag  string `json:"meta_etag,omitempty"`
	// BackendHash names the store (island) that holds the participant;
	// "" is the coordinator's own store.
	BackendHash string `json:"backend_hash,omitempty"`
}

// KindMessage marks a queue message participant.
const KindMessage = "message"

func (p Participant) same(q Participant) bool {
	return p.Kind == q.Kind && p.Namespace == q.Namespace && p.Key == q.Key && p.Queue == q.Queue && p.MessageID == q.MessageID
}

// record is the durable coordinator record of a transaction.
type record struct {
	ID           string        `json:"id"`
	State        State         `json:"state"`
	Participants []Participant `json:"participants"`
	Term         uint64        `json:"term,omitempty"`
	Created      int64         `json:"created"`
	Decided      int64         `json:"decided,omitempty"`
	Applied      bool          `json:"applied,omitempty"`
	// Expires, when set (decide API), rolls a still-pending transaction
	// back at that time.
	Expires int64 `json:"expires,omitempty"`
}

func recordKey(id string) string { return ".txns/t/" + id }

const recordPrefix = ".txns/t/"

func (r *record) encode() []byte {
	b, _ := json.Marshal(r)
	return b
}

// decodeRecord decodes a stored decision record; an undecodable one is
// store.ErrCorrupt.
func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("txn: %w: %w", store.ErrCorrupt, err)
	}
	return r, nil
}

// with returns the participants plus p, without duplicates.
func with(ps []Participant, add ...Participant) []Participant {
	out := append([]Participant(nil), ps...)
	for _, p := range add {
		dup := false
		for _, q := range out {
			if q.same(p) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

func (p Participant) describe() string {
	if p.Kind == KindMessage {
		return fmt.Sprintf("message %s/%s/%s", p.Namespace, p.Queue, p.MessageID)
	}
	return fmt.Sprintf("key %s/%s", p.Namespace, p.Key)
}
