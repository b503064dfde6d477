package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/lockdhq/lockd/store"
)

// Errors of the TC endpoints.
var (
	ErrMissingCandidate = errors.New("txn: candidate_id and candidate_endpoint required")
	ErrMissingEndpoint  = errors.New("txn: endpoint required")
	ErrMissingHash      = errors.New("txn: backend_hash required")
	// ErrNoLeader: no TC leader is known yet (an election is under way).
	ErrNoLeader = errors.New("txn: no TC leader elected yet")
)

// Leadership says whether this node is the TC leader, and in which term.
// The cluster's elector implements it; nil in Config makes the node lead
// itself (a single node per store).
type Leadership interface {
	// Leading reports whether this node leads now and its term.
	Leading() (term uint64, ok bool)
	// LeaderEndpoint is the leader's API URL as last seen ("" unknown).
	LeaderEndpoint() string
	// CurrentTerm reads the current term from the store: resource
	// managers compare decisions against it.
	CurrentTerm(ctx context.Context) (uint64, error)
}

// Remote reaches the other nodes: the TC leader, the owners of
// participants on other nodes and the resource managers of other stores.
// The edge implements it over HTTP; nil in Config means every participant
// is served here.
type Remote interface {
	// Route returns "" when p is served by this node, else the API URL of
	// the node (or island RM) that applies p.
	Route(ctx context.Context, p Participant) (string, error)
	// Decide sends a decision or a join (state pending) to the leader's
	// /v1/txn/decide and returns the recorded state.
	Decide(ctx context.Context, leader string, req DecideRequest) (State, error)
	// Apply sends a decision to the RM at endpoint (/v1/txn/commit or
	// /v1/txn/rollback) for parts, carrying req.Term.
	Apply(ctx context.Context, endpoint string, req DecideRequest) error
	// Prepare asks the node at endpoint whether parts can still commit.
	// relayFor is the backend hash of another island's TC when a node of
	// this cluster relays that TC's prepare to the participants' owner
	// (keyspace.OwnTC otherwise).
	Prepare(ctx context.Context, endpoint, txnID, relayFor string, parts []Participant) error
	// Origin asks the other nodes to enlist the key that minted txnID, and
	// returns it (nil when no node has it).
	Origin(ctx context.Context, txnID string) (*Participant, error)
}

// soloLeader is the leadership of a node alone on its store: it leads, in
// a term that grows at every start.
type soloLeader struct {
	st   store.Backend
	term atomic.Uint64
}

const soloTermKey = ".txns/tc/term"

func (l *soloLeader) Leading() (uint64, bool) { return l.term.Load(), true }
func (l *soloLeader) LeaderEndpoint() string  { return "" }
func (l *soloLeader) CurrentTerm(context.Context) (uint64, error) {
	return l.term.Load(), nil
}

// start increments and persists the term.
func (l *soloLeader) start(ctx context.Context) error {
	var tr struct {
		Term uint64 `json:"term"`
	}
	cond := store.Cond{IfNotExists: true}
	got, err := l.st.Get(ctx, soloTermKey)
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
	b, _ := json.Marshal(tr)
	if _, err := l.st.Put(ctx, soloTermKey, b, cond); err != nil {
		return fmt.Errorf("%w: term record: %w", ErrUnavailable, err)
	}
	l.term.Store(tr.Term)
	return nil
}

// checkTerm refuses a decision of an older TC term. A decision of this
// store's own TC is compared with the current term in the store; one from
// another island's TC (From) with the highest term seen from it.
func (s *Service) checkTerm(ctx context.Context, req DecideRequest) error {
	if req.Term == 0 {
		return nil // tooling without a term (lockd txn commit)
	}
	if req.From != "" && req.From != s.cfg.BackendHash {
		v, _ := s.foreign.LoadOrStore(req.From, new(atomic.Uint64))
		hi := v.(*atomic.Uint64)
		for {
			cur := hi.Load()
			if req.Term < cur {
				staleRejected.Inc()
				return fmt.Errorf("%w: %d < %d (TC of backend %s)", ErrStaleTerm, req.Term, cur, req.From)
			}
			if cur == req.Term || hi.CompareAndSwap(cur, req.Term) {
				return nil
			}
		}
	}
	cur, err := s.lead.CurrentTerm(ctx)
	if err != nil {
		return fmt.Errorf("%w: reading the TC term: %w", ErrUnavailable, err)
	}
	if req.Term < cur {
		staleRejected.Inc()
		return fmt.Errorf("%w: %d < %d", ErrStaleTerm, req.Term, cur)
	}
	return nil
}
