package tc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// LeaderKey is the store record of the TC leader lease.
const LeaderKey = ".lockd/tc-cluster/leader"

// legacyTermKey held the term of the single-node coordinator; a store that
// has it starts its leader terms above it.
const legacyTermKey = ".txns/tc/term"

// DefaultLeaseTTL is the leader lease (and membership lease) duration.
const DefaultLeaseTTL = 10 * time.Second

// Leader is a leader lease.
type Leader struct {
	ID       string `json:"leader_id"`
	Endpoint string `json:"leader_endpoint"`
	// Term strictly increases at every change of holder.
	// INVARIANT: no two grants share a term (conditional writes).
	Term uint64 `json:"term"`
	// ExpiresMs is the lease end in Unix milliseconds; 0 once released.
	ExpiresMs int64 `json:"expires_ms"`
}

// Expires is the lease end.
func (l Leader) Expires() time.Time { return time.UnixMilli(l.ExpiresMs) }

// live reports whether the lease still runs at now.
func (l Leader) live(now time.Time) bool { return l.ID != "" && l.ExpiresMs > now.UnixMilli() }

// claim is the pure election rule: may candidate cand take or keep the
// lease cur at now? holderAlive says whether membership still sees cur's
// holder. It returns the record to write and whether it is granted.
func claim(cur Leader, now time.Time, cand, endpoint string, ttl time.Duration, holderAlive bool) (Leader, bool) {
	next := Leader{ID: cand, Endpoint: endpoint, Term: cur.Term, ExpiresMs: now.Add(ttl).UnixMilli()}
	switch {
	case cur.ID == cand && cur.live(now):
		return next, true // renewal keeps the term
	case !cur.live(now) || !holderAlive:
		next.Term++
		return next, true
	}
	return cur, false
}

// Config configures an Elector.
type Config struct {
	Store store.Backend
	// ID is this member's identity (its cluster id); Endpoint its API URL.
	ID, Endpoint string
	// TTL is the lease duration (default DefaultLeaseTTL); the lease is
	// renewed every TTL/3.
	TTL time.Duration
	// Alive reports whether a member identity is alive (memberlist). Nil:
	// only the lease's expiry frees it.
	Alive func(id string) bool
	Clock clock.Clock
	Log   zerolog.Logger
}

// Elector campaigns for and holds the TC leader lease of one store. It is
// safe for concurrent use.
type Elector struct {
	cfg Config

	mu      sync.Mutex
	view    Leader    // last record seen
	leading time.Time // this node leads until then (its own clock)
}

// NewElector returns an elector; Run campaigns.
func NewElector(cfg Config) *Elector {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Elector{cfg: cfg}
}

// ID is this member's identity.
func (e *Elector) ID() string { return e.cfg.ID }

// Endpoint is this member's API URL.
func (e *Elector) Endpoint() string { return e.cfg.Endpoint }

// TTL is the lease duration.
func (e *Elector) TTL() time.Duration { return e.cfg.TTL }

// Leader returns the last leader lease seen.
func (e *Elector) Leader() Leader {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.view
}

// Leading reports whether this node leads now, and its term.
func (e *Elector) Leading() (uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.view.ID == e.cfg.ID && e.cfg.Clock.Now().Before(e.leading) {
		return e.view.Term, true
	}
	return 0, false
}

// Run campaigns until ctx is done: every TTL/3 it renews its lease, or
// takes the lease when it is free, or refreshes its view of the leader.
// changed, when not nil, wakes it early (a membership change).
func (e *Elector) Run(parent context.Context, changed func() <-chan struct{}) {
	t := time.NewTicker(e.cfg.TTL / 3)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(parent, e.cfg.TTL/2)
		if _, err := e.Step(ctx); err != nil {
			e.cfg.Log.Warn().Err(err).Str("sys", "txn.tc.election").Msg("leader lease round failed")
		}
		cancel()
		var ch <-chan struct{}
		if changed != nil {
			ch = changed()
		}
		select {
		case <-parent.Done():
			return
		case <-t.C:
		case <-ch:
		}
	}
}

// Step runs one round of the campaign for this node and returns the leader.
func (e *Elector) Step(ctx context.Context) (Leader, error) {
	_, l, err := e.acquire(ctx, e.cfg.ID, e.cfg.Endpoint, e.cfg.TTL)
	return l, err
}

// Acquire asks for the lease on behalf of candidate (this node or a peer
// through /v1/tc/lease/acquire). It reports whether the candidate holds the
// lease now, and the lease.
func (e *Elector) Acquire(ctx context.Context, cand, endpoint string, ttl time.Duration) (bool, Leader, error) {
	if ttl <= 0 {
		ttl = e.cfg.TTL
	}
	return e.acquire(ctx, cand, endpoint, ttl)
}

func (e *Elector) acquire(ctx context.Context, cand, endpoint string, ttl time.Duration) (bool, Leader, error) {
	var (
		granted bool
		out     Leader
		start   time.Time
	)
	err := update(ctx, e.cfg.Store, LeaderKey, func(b []byte) ([]byte, bool, bool, error) {
		cur, err := e.decode(ctx, b)
		if err != nil {
			return nil, false, false, err
		}
		start = e.cfg.Clock.Now()
		alive := cur.ID == "" || cur.ID == cand || e.cfg.Alive == nil || e.cfg.Alive(cur.ID)
		next, ok := claim(cur, start, cand, endpoint, ttl, alive)
		granted, out = ok, next
		if !ok {
			return nil, false, true, nil
		}
		enc, _ := json.Marshal(next)
		return enc, false, false, nil
	})
	if err != nil {
		return false, Leader{}, err
	}
	e.observe(out, granted && cand == e.cfg.ID, start.Add(ttl))
	return granted, out, nil
}

// decode reads a leader record; an absent one starts above the legacy
// single-node term.
func (e *Elector) decode(ctx context.Context, b []byte) (Leader, error) {
	var l Leader
	if b == nil {
		got, err := e.cfg.Store.Get(ctx, legacyTermKey)
		if err == nil {
			var legacy struct {
				Term uint64 `json:"term"`
			}
			if json.Unmarshal(got.Value, &legacy) == nil {
				l.Term = legacy.Term
			}
		}
		return l, nil
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return Leader{}, fmt.Errorf("tc: leader record: %w: %w", store.ErrCorrupt, err)
	}
	return l, nil
}

func (e *Elector) observe(l Leader, mine bool, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l.Term < e.view.Term {
		return // an older read raced a newer one
	}
	prev := e.view
	e.view = l
	switch {
	case mine:
		e.leading = until
	case l.ID != e.cfg.ID:
		e.leading = time.Time{}
	}
	if prev.ID != l.ID || prev.Term != l.Term {
		e.cfg.Log.Info().Str("sys", "txn.tc.election").Str("leader_id", l.ID).Str("leader_endpoint", l.Endpoint).
			Uint64("term", l.Term).Bool("self", l.ID == e.cfg.ID).Msg("TC leader")
	}
}

// Renew extends the lease of leaderID in term; false when it is not the
// holder of that term any more.
func (e *Elector) Renew(ctx context.Context, leaderID string, term uint64, ttl time.Duration) (bool, Leader, error) {
	if ttl <= 0 {
		ttl = e.cfg.TTL
	}
	var (
		ok    bool
		out   Leader
		start time.Time
	)
	err := update(ctx, e.cfg.Store, LeaderKey, func(b []byte) ([]byte, bool, bool, error) {
		cur, err := e.decode(ctx, b)
		if err != nil {
			return nil, false, false, err
		}
		start = e.cfg.Clock.Now()
		out = cur
		if cur.ID != leaderID || cur.Term != term || !cur.live(start) {
			ok = false
			return nil, false, true, nil
		}
		ok = true
		out.ExpiresMs = start.Add(ttl).UnixMilli()
		enc, _ := json.Marshal(out)
		return enc, false, false, nil
	})
	if err != nil {
		return false, Leader{}, err
	}
	e.observe(out, ok && leaderID == e.cfg.ID, start.Add(ttl))
	return ok, out, nil
}

// Release ends the lease of leaderID in term; the next holder takes term+1.
func (e *Elector) Release(ctx context.Context, leaderID string, term uint64) (bool, error) {
	ok := false
	var out Leader
	err := update(ctx, e.cfg.Store, LeaderKey, func(b []byte) ([]byte, bool, bool, error) {
		cur, err := e.decode(ctx, b)
		if err != nil {
			return nil, false, false, err
		}
		out = cur
		if cur.ID != leaderID || cur.Term != term || cur.ExpiresMs == 0 {
			ok = false
			return nil, false, true, nil
		}
		ok = true
		out.ExpiresMs = 0
		enc, _ := json.Marshal(out)
		return enc, false, false, nil
	})
	if err != nil {
		return false, err
	}
	if ok {
		e.mu.Lock()
		if leaderID == e.cfg.ID {
			e.leading = time.Time{}
		}
		e.view = out
		e.mu.Unlock()
	}
	return ok, nil
}

// Current reads the leader record from the store: the current term, which
// resource managers compare decisions against.
func (e *Elector) Current(ctx context.Context) (Leader, error) {
	got, err := e.cfg.Store.Get(ctx, LeaderKey)
	if errors.Is(err, store.ErrNotFound) {
		return e.decode(ctx, nil)
	}
	if err != nil {
		return Leader{}, fmt.Errorf("%w: read leader: %w", ErrUnavailable, err)
	}
	l, err := e.decode(ctx, got.Value)
	if err != nil {
		return Leader{}, err
	}
	e.observe(l, false, time.Time{})
	return l, nil
}
