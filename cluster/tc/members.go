package tc

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// LeasePrefix holds the membership leases of TC members, one per identity.
const LeasePrefix = ".lockd/tc-cluster/leases/"

// memberLease is one TC member's membership lease.
type memberLease struct {
	Identity  string `json:"identity"`
	Endpoint  string `json:"endpoint"`
	ExpiresMs int64  `json:"expires_ms"`
	UpdatedMs int64  `json:"updated_ms"`
}

// Members are the membership leases of the TC cluster in a store.
type Members struct {
	st    store.Backend
	clock clock.Clock
	ttl   time.Duration
}

// NewMembers returns the membership leases in st, each valid for ttl
// (default DefaultLeaseTTL) after its last announce.
func NewMembers(st store.Backend, c clock.Clock, ttl time.Duration) *Members {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if c == nil {
		c = clock.Real{}
	}
	return &Members{st: st, clock: c, ttl: ttl}
}

// leaseKey escapes an identity (an endpoint URL by default) into one key
// segment.
func leaseKey(identity string) string {
	return LeasePrefix + strings.NewReplacer("%", "%25", "/", "%2F").Replace(identity)
}

// Announce takes or renews identity's lease and returns the live members'
// endpoints and the lease end.
func (m *Members) Announce(ctx context.Context, identity, endpoint string) ([]string, time.Time, error) {
	now := m.clock.Now()
	exp := now.Add(m.ttl)
	err := update(ctx, m.st, leaseKey(identity), func([]byte) ([]byte, bool, bool, error) {
		b, _ := json.Marshal(memberLease{Identity: identity, Endpoint: endpoint, ExpiresMs: exp.UnixMilli(), UpdatedMs: now.UnixMilli()})
		return b, false, false, nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	eps, _, err := m.List(ctx)
	return eps, exp, err
}

// Leave drops identity's lease and returns the remaining endpoints.
func (m *Members) Leave(ctx context.Context, identity string) ([]string, error) {
	err := update(ctx, m.st, leaseKey(identity), func([]byte) ([]byte, bool, bool, error) {
		return nil, true, false, nil
	})
	if err != nil {
		return nil, err
	}
	eps, _, err := m.List(ctx)
	return eps, err
}

// List returns the endpoints of the live leases, sorted and without
// duplicates, and the time of the latest announce.
func (m *Members) List(ctx context.Context) ([]string, time.Time, error) {
	now := m.clock.Now().UnixMilli()
	set := map[string]bool{}
	var updated int64
	err := list(ctx, m.st, LeasePrefix, func(_ string, b []byte) {
		var l memberLease
		if json.Unmarshal(b, &l) == nil && l.ExpiresMs > now && l.Endpoint != "" {
			set[l.Endpoint] = true
			updated = max(updated, l.UpdatedMs)
		}
	})
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Strings(out)
	var at time.Time
	if updated > 0 {
		at = time.UnixMilli(updated)
	}
	return out, at, err
}
