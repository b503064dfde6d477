package keyspace

import (
	"encoding/json"
	"time"
)

// record is the persisted state of one key. Values are treated as
// immutable: transitions build a new record (see core.go).
type record struct {
	// INVARIANT: Fencing is the last token granted; it never decreases.
	Fencing   uint64          `json:"fencing"`
	Version   int64           `json:"version"`
	ETag      string          `json:"etag,omitempty"` // "" = no committed state
	State     json.RawMessage `json:"state,omitempty"`
	Blob      string          `json:"blob,omitempty"`
	Size      int64           `json:"size,omitempty"`
	UpdatedAt int64           `json:"updated_at,omitempty"` // unix seconds
	Hidden    bool            `json:"hidden,omitempty"`
	Lease     *leaseRec       `json:"lease,omitempty"`
	Staged    *stagedRec      `json:"staged,omitempty"`
	// Attachments are the committed attachments by name.
	Attachments map[string]*attachment `json:"attachments,omitempty"`
	// Ended tells how the last lease ended, so that a late release of it
	// learns whether its staged writes were committed.
	Ended *endedRec `json:"ended,omitempty"`
}

// endedRec is how a lease ended: "commit", "rollback", "expired" (its
// staged writes, if Staged, were discarded) or "aborted" (its transaction
// rolled back).
type endedRec struct {
	ID      string `json:"id"`
	Outcome string `json:"outcome"`
	Staged  bool   `json:"staged,omitempty"`
}

type leaseRec struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	Txn     string `json:"txn"`
	Expires int64  `json:"expires"` // unix nanoseconds
	Fencing uint64 `json:"fencing"`
	// Enlisted leases belong to a multi-participant transaction: they never
	// commit, roll back or expire alone, but follow its decision.
	Enlisted bool `json:"enlisted,omitempty"`
	// PreparedBy is the backend hash of another island's coordinator whose
	// prepare this lease answered yes. From then on the lease is in doubt:
	// it neither expires nor follows this island's own coordinator, only
	// that coordinator's decision (or an operator's) settles it.
	// INVARIANT: set only on an enlisted lease, and never cleared while the
	// lease lives.
	PreparedBy string `json:"prepared_by,omitempty"`
}

func (l *leaseRec) expiresAt() time.Time { return time.Unix(0, l.Expires) }

// stagedRec is what the current lease's transaction has written.
type stagedRec struct {
	Txn     string          `json:"txn"`
	Version int64           `json:"version"`
	Removed bool            `json:"removed,omitempty"`
	ETag    string          `json:"etag,omitempty"` // "" = state not staged
	State   json.RawMessage `json:"state,omitempty"`
	Blob    string          `json:"blob,omitempty"`
	Size    int64           `json:"size,omitempty"`
	Hidden  *bool           `json:"hidden,omitempty"`
	// Attachments are staged uploads by name; a nil entry stages the
	// deletion of a committed attachment.
	Attachments map[string]*attachment `json:"attachments,omitempty"`
	// ClearAttachments stages the deletion of every committed attachment.
	ClearAttachments bool `json:"clear_attachments,omitempty"`
}

// blobs lists every blob the record references.
func (r *record) blobs() []string {
	var out []string
	if r.Blob != "" {
		out = append(out, r.Blob)
	}
	for _, a := range r.Attachments {
		out = append(out, a.Blob)
	}
	if s := r.Staged; s != nil {
		if s.Blob != "" {
			out = append(out, s.Blob)
		}
		out = append(out, s.attachmentBlobs()...)
	}
	return out
}
