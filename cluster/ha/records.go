package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lockdhq/lockd/store"
)

// Store records of the HA modes. ".ha" is a reserved (dot) namespace: no
// client key can live there.
const (
	// LeaseKey is the failover lease record (lockd v0.9's .ha/activelease).
	LeaseKey = ".ha/activelease"
	// MemberPrefix precedes the member record of each node.
	MemberPrefix = ".ha/members/"
)

// ErrCorrupt is returned for an HA record that cannot be decoded.
var ErrCorrupt = errors.New("ha: corrupt record")

// NodeInfo identifies one lockd process.
type NodeInfo struct {
	// ID is unique per process (a restart is a new node).
	ID       string `json:"id"`
	Endpoint string `json:"endpoint,omitempty"`
	Host     string `json:"host,omitempty"`
	// BootID, PIDNS and PID let a process on the same machine (same
	// kernel boot and PID namespace) prove that the recorded process is
	// gone (Prober).
	BootID string `json:"boot_id,omitempty"`
	PIDNS  string `json:"pid_ns,omitempty"`
	PID    int    `json:"pid,omitempty"`
}

func (n NodeInfo) String() string {
	s := n.ID
	if n.Endpoint != "" {
		s += " at " + n.Endpoint
	}
	if n.Host != "" {
		s += fmt.Sprintf(" (host %s, pid %d)", n.Host, n.PID)
	}
	return s
}

// LeaseRecord is the content of LeaseKey. Times are the writer's wall
// clock in Unix milliseconds; they inform people and single-mode start
// checks, while failover decisions measure how long the record stayed
// unchanged on the reader's own clock.
type LeaseRecord struct {
	Holder NodeInfo `json:"holder"`
	// Mode is "failover", or "single" while an auto node holds the lease
	// alone (it becomes "failover" when another node appears).
	Mode string `json:"mode"`
	// Term grows by one each time the lease changes hands.
	Term uint64 `json:"term"`
	// Nonce is new in every write, so that a holder recognises a write of
	// its own whose answer it never received.
	Nonce     string `json:"nonce"`
	Released  bool   `json:"released,omitempty"`
	RenewedAt int64  `json:"renewed_at_ms"`
	ExpiresAt int64  `json:"expires_at_ms"`
	TTLMillis int64  `json:"ttl_ms"`
}

// MemberRecord is a node's presence under MemberPrefix+ID, rewritten every
// heartbeat while the node runs. A single-mode node's record fences other
// nodes until ExpiresAt.
type MemberRecord struct {
	Node      NodeInfo `json:"node"`
	Mode      Mode     `json:"mode"`
	Active    bool     `json:"active"`
	UpdatedAt int64    `json:"updated_at_ms"`
	ExpiresAt int64    `json:"expires_at_ms"`
}

// MemberKey is the member record of node id.
func MemberKey(id string) string { return MemberPrefix + id }

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	return b
}

func decodeLease(b []byte) (LeaseRecord, error) {
	var r LeaseRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Holder.ID == "" {
		return LeaseRecord{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, LeaseKey, err)
	}
	return r, nil
}

func decodeMember(key string, b []byte) (MemberRecord, error) {
	var r MemberRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Node.ID == "" {
		return MemberRecord{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, key, err)
	}
	return r, nil
}

// LeaseView is the lease record as one read saw it.
type LeaseView struct {
	Present bool
	ETag    string
	Rec     LeaseRecord
}

// MemberView is a member record as one read saw it.
type MemberView struct {
	ETag string
	Rec  MemberRecord
}

// ReadLease reads the lease record; Present is false when there is none.
func ReadLease(ctx context.Context, st store.Backend) (LeaseView, error) {
	rec, err := st.Get(ctx, LeaseKey)
	if errors.Is(err, store.ErrNotFound) {
		return LeaseView{}, nil
	}
	if err != nil {
		return LeaseView{}, fmt.Errorf("ha: read %s: %w", LeaseKey, err)
	}
	r, err := decodeLease(rec.Value)
	if err != nil {
		return LeaseView{}, err
	}
	return LeaseView{Present: true, ETag: rec.ETag, Rec: r}, nil
}

// ReadMembers reads every member record. A record that vanishes between
// the listing and its read is skipped; a corrupt one is an error.
func ReadMembers(ctx context.Context, st store.Backend) ([]MemberView, error) {
	var out []MemberView
	after := ""
	for {
		keys, err := st.List(ctx, MemberPrefix, after, 100)
		if err != nil {
			return nil, fmt.Errorf("ha: list %s: %w", MemberPrefix, err)
		}
		for _, k := range keys {
			rec, err := st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("ha: read %s: %w", k, err)
			}
			m, err := decodeMember(k, rec.Value)
			if err != nil {
				return nil, err
			}
			if !strings.HasSuffix(k, m.Node.ID) {
				return nil, fmt.Errorf("%w: %s names node %s", ErrCorrupt, k, m.Node.ID)
			}
			out = append(out, MemberView{ETag: rec.ETag, Rec: m})
		}
		if len(keys) < 100 {
			return out, nil
		}
		after = keys[len(keys)-1]
	}
}
