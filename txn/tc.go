package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lockdhq/lockd/store"
)

// The TC runs on a single node for now: the node is its own leader and its
// own resource manager. Its term grows at every start, so decisions of a
// previous incarnation carry an older term. Cluster membership and the RM
// registry are records under .txns/tc/ that a multi-node TC will share.

const (
	termKey       = ".txns/tc/term"
	memberPrefix  = ".txns/tc/cluster/"
	rmPrefix      = ".txns/tc/rm/"
	memberTTL     = 30 * time.Second
	leaderLeaseTT = 30 * time.Second
)

// Errors of the TC endpoints.
var (
	ErrMissingCandidate = errors.New("txn: candidate_id and candidate_endpoint required")
	ErrNotLeader        = errors.New("txn: not the TC leader")
	ErrMissingEndpoint  = errors.New("txn: endpoint required")
	ErrMissingHash      = errors.New("txn: backend_hash required")
)

type tcState struct {
	s  *Service
	mu sync.Mutex
}

func newTC(s *Service) *tcState { return &tcState{s: s} }

type termRecord struct {
	Term   uint64 `json:"term"`
	Leader string `json:"leader"`
}

// start increments and persists the term.
func (t *tcState) start(ctx context.Context) error {
	var tr termRecord
	cond := store.Cond{IfNotExists: true}
	got, err := t.s.st.Get(ctx, termKey)
	switch {
	case err == nil:
		if err := json.Unmarshal(got.Value, &tr); err != nil {
			return fmt.Errorf("txn: term record: %w: %w", store.ErrCorrupt, err)
		}
		cond = store.Cond{IfMatch: got.ETag}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: term record: %w", ErrUnavailable, err)
	}
	tr.Term++
	tr.Leader = t.s.cfg.NodeID
	b, _ := json.Marshal(tr)
	if _, err := t.s.st.Put(ctx, termKey, b, cond); err != nil {
		return fmt.Errorf("%w: term record: %w", ErrUnavailable, err)
	}
	t.s.term.Store(tr.Term)
	return nil
}

// Leader describes the TC leader.
type Leader struct {
	ID        string
	Endpoint  string
	Term      uint64
	ExpiresAt time.Time
}

// Leader returns this node: it leads while it runs.
func (s *Service) Leader() Leader {
	return Leader{ID: s.cfg.NodeID, Endpoint: s.cfg.Endpoint, Term: s.Term(), ExpiresAt: s.clock.Now().Add(leaderLeaseTT)}
}

// LeaseAcquire answers a candidate asking for the TC leader lease: granted
// only to this node (the single-node TC leads itself).
func (s *Service) LeaseAcquire(candidateID, endpoint string) (bool, Leader, error) {
	if candidateID == "" || endpoint == "" {
		return false, Leader{}, ErrMissingCandidate
	}
	return candidateID == s.cfg.NodeID, s.Leader(), nil
}

// LeaseRenew renews the leader lease of the current term.
func (s *Service) LeaseRenew(leaderID string, term uint64) (bool, Leader) {
	return leaderID == s.cfg.NodeID && term == s.Term(), s.Leader()
}

// LeaseRelease releases the leader lease; this node then leads a new term.
func (s *Service) LeaseRelease(ctx context.Context, leaderID string, term uint64) (bool, error) {
	if leaderID != s.cfg.NodeID || term != s.Term() {
		return false, nil
	}
	return true, s.tc.start(ctx)
}

// Member is a TC cluster member.
type Member struct {
	Endpoint string `json:"endpoint"`
	Expires  int64  `json:"expires"`
}

// Announce records (or refreshes) a cluster member for memberTTL and returns
// the live endpoints.
func (s *Service) Announce(ctx context.Context, identity, endpoint string) ([]string, time.Time, error) {
	if endpoint == "" {
		return nil, time.Time{}, ErrMissingEndpoint
	}
	if identity == "" {
		identity = endpoint
	}
	exp := s.clock.Now().Add(memberTTL)
	b, _ := json.Marshal(Member{Endpoint: endpoint, Expires: exp.Unix()})
	if _, err := s.st.Put(ctx, memberPrefix+identity, b, store.Cond{}); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	eps, err := s.Members(ctx)
	return eps, exp, err
}

// Leave removes a member.
func (s *Service) Leave(ctx context.Context, identity string) ([]string, error) {
	if err := s.st.Delete(ctx, memberPrefix+identity, store.Cond{}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return s.Members(ctx)
}

// Members lists this node's endpoint and every live member's.
func (s *Service) Members(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	if s.cfg.Endpoint != "" {
		set[s.cfg.Endpoint] = true
	}
	now := s.clock.Now().Unix()
	err := s.records(ctx, memberPrefix, func(_ string, b []byte) {
		var m Member
		if json.Unmarshal(b, &m) == nil && m.Expires > now {
			set[m.Endpoint] = true
		}
	})
	return sortedKeys(set), err
}

// Backend is a registered resource manager backend.
type Backend struct {
	Hash      string   `json:"hash"`
	Endpoints []string `json:"endpoints"`
	Updated   int64    `json:"updated"`
}

// RegisterRM adds endpoint to a backend's RM endpoints.
func (s *Service) RegisterRM(ctx context.Context, hash, endpoint string) (Backend, error) {
	return s.editRM(ctx, hash, endpoint, true)
}

// UnregisterRM removes endpoint from a backend's RM endpoints.
func (s *Service) UnregisterRM(ctx context.Context, hash, endpoint string) (Backend, error) {
	return s.editRM(ctx, hash, endpoint, false)
}

func (s *Service) editRM(ctx context.Context, hash, endpoint string, add bool) (Backend, error) {
	if strings.TrimSpace(hash) == "" {
		return Backend{}, ErrMissingHash
	}
	if endpoint == "" {
		return Backend{}, ErrMissingEndpoint
	}
	s.tc.mu.Lock()
	defer s.tc.mu.Unlock()
	b := Backend{Hash: hash}
	if got, err := s.st.Get(ctx, rmPrefix+hash); err == nil {
		json.Unmarshal(got.Value, &b)
	}
	set := map[string]bool{}
	for _, e := range b.Endpoints {
		set[e] = true
	}
	set[endpoint] = add
	for e, keep := range set {
		if !keep {
			delete(set, e)
		}
	}
	b.Endpoints, b.Updated = sortedKeys(set), s.clock.Now().Unix()
	enc, _ := json.Marshal(b)
	if _, err := s.st.Put(ctx, rmPrefix+hash, enc, store.Cond{}); err != nil {
		return Backend{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return b, nil
}

// RMs lists the registered backends.
func (s *Service) RMs(ctx context.Context) ([]Backend, error) {
	var out []Backend
	err := s.records(ctx, rmPrefix, func(_ string, b []byte) {
		var be Backend
		if json.Unmarshal(b, &be) == nil {
			out = append(out, be)
		}
	})
	return out, err
}

func (s *Service) records(ctx context.Context, prefix string, fn func(string, []byte)) error {
	after := ""
	for {
		keys, err := s.st.List(ctx, prefix, after, 500)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			if got, err := s.st.Get(ctx, k); err == nil {
				fn(k, got.Value)
			}
		}
		after = keys[len(keys)-1]
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
