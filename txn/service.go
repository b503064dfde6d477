package txn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
)

// Config configures the coordinator.
type Config struct {
	// Retention is how long decided, applied records are kept (default 24h).
	Retention time.Duration
	// FanoutTimeout bounds one prepare or apply round (default 30s).
	FanoutTimeout time.Duration
	// NodeID and Endpoint identify this node as TC leader and RM.
	NodeID   string
	Endpoint string
	Actors   actors.Config
	Clock    clock.Clock
	Logger   zerolog.Logger
	// Messages settles enlisted queue deliveries (ack on commit, nack on
	// rollback). It is fixed at New, before Recover replays decisions that
	// may name messages; nil means this node has no queues, and a message
	// participant then fails with ErrUnknownParticipant.
	Messages MessageRM
}

// Service is the transaction coordinator. It implements
// keyspace.Coordinator. It is safe for concurrent use.
type Service struct {
	st    store.Store
	keys  *keyspace.Service
	rm    *localRM
	cfg   Config
	clock clock.Clock
	log   zerolog.Logger
	reg   *actors.Registry
	dir   sync.Map // txn ids with a record not yet fully applied
	term  atomic.Uint64
	tc    *tcState
}

var _ keyspace.Coordinator = (*Service)(nil)

// New starts the coordinator over keys and cfg.Messages, its resource
// managers, which never change afterwards; it installs itself as the keys'
// coordinator. Call Recover before serving, once every participant's
// service is running.
func New(system *actor.ActorSystem, st store.Store, keys *keyspace.Service, cfg Config) *Service {
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.FanoutTimeout <= 0 {
		cfg.FanoutTimeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "lockd"
	}
	cfg.Actors.Clock = cfg.Clock
	s := &Service{st: st, keys: keys, rm: &localRM{keys: keys, msgs: cfg.Messages}, cfg: cfg, clock: cfg.Clock,
		log: cfg.Logger.With().Str("sys", "txn.tc").Logger()}
	s.tc = newTC(s)
	s.reg = actors.NewRegistry(system, func(id string) actor.Actor { return &txnActor{svc: s, id: id} }, cfg.Actors)
	keys.SetCoordinator(s)
	return s
}

// Close stops the transaction actors.
func (s *Service) Close() { s.reg.Close() }

// Multi implements keyspace.Coordinator.
func (s *Service) Multi(txnID string) bool {
	_, ok := s.dir.Load(txnID)
	return ok
}

// Expired implements keyspace.Coordinator: the transaction rolls back (or,
// if already decided, applies its decision to ref).
func (s *Service) Expired(txnID string, ref keyspace.Ref) {
	s.reg.Send(txnID, newRequest(&opExpired{p: Participant{Namespace: ref.Namespace, Key: ref.Key}}))
}

func (s *Service) call(ctx context.Context, id string, op any) (State, error) {
	req := newRequest(op)
	s.reg.Send(id, req)
	select {
	case r := <-req.reply:
		return r.state, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Term is the coordinator's current term.
func (s *Service) Term() uint64 { return s.term.Load() }

// Acquire takes a key's lease. An acquire that names an existing txn_id
// joins that transaction: the key is enlisted and recorded as a
// participant before the lease is returned.
func (s *Service) Acquire(ctx context.Context, req keyspace.AcquireRequest) (keyspace.Lease, error) {
	if req.TxnID == "" {
		return s.keys.Acquire(ctx, req)
	}
	req.Enlist = true
	l, err := s.keys.Acquire(ctx, req)
	if err != nil {
		return l, err
	}
	p := Participant{Namespace: l.Namespace, Key: l.Key}
	var origin *Participant
	if o, ok := s.keys.Origin(req.TxnID); ok {
		origin = &Participant{Namespace: o.Namespace, Key: o.Key}
	}
	if _, err := s.call(ctx, req.TxnID, &opJoin{p: p, origin: origin}); err != nil {
		// The key cannot join: give its lease back, staging nothing.
		bg, cancel := context.WithTimeout(context.Background(), s.cfg.FanoutTimeout)
		defer cancel()
		s.keys.ApplyTxn(bg, l.Ref, l.TxnID, false)
		if errors.Is(err, ErrDecided) {
			return keyspace.Lease{}, fmt.Errorf("%w: cannot join transaction %s", err, req.TxnID)
		}
		return keyspace.Lease{}, err
	}
	return l, nil
}

// Release ends a lease. For a participant of a multi-participant
// transaction it decides (or looks up) the transaction's outcome and
// applies it to every participant; a commit that had to roll back fails
// with ErrAborted.
func (s *Service) Release(ctx context.Context, req keyspace.ReleaseRequest) (bool, error) {
	ok, err := s.keys.Release(ctx, req)
	if !errors.Is(err, keyspace.ErrEnlisted) {
		return ok, err
	}
	want := Commit
	if req.Rollback {
		want = Rollback
	}
	p := Participant{Namespace: req.Namespace, Key: req.Key}
	if _, err := s.call(ctx, req.TxnID, &opDecide{want: want, requester: &p}); err != nil {
		return false, err
	}
	return true, nil
}

// SettleMessage lets the ack (commit) or nack (rollback) of a message
// dequeued under a multi-participant transaction decide that transaction.
// It reports false when txnID has no other participants: the caller then
// settles the message itself.
func (s *Service) SettleMessage(ctx context.Context, txnID string, p Participant, commit bool) (bool, error) {
	if txnID == "" || !s.Multi(txnID) {
		return false, nil
	}
	want := Rollback
	if commit {
		want = Commit
	}
	p.Kind = KindMessage
	_, err := s.call(ctx, txnID, &opDecide{want: want, requester: &p})
	return true, err
}

// Enlist adds a participant (a dequeued message) to a transaction.
func (s *Service) Enlist(ctx context.Context, txnID string, p Participant) error {
	var origin *Participant
	if o, ok := s.keys.Origin(txnID); ok {
		origin = &Participant{Namespace: o.Namespace, Key: o.Key}
	}
	_, err := s.call(ctx, txnID, &opJoin{p: p, origin: origin})
	return err
}

// DecideRequest records a decision (the /v1/txn/decide endpoint).
type DecideRequest struct {
	TxnID        string
	State        State
	Participants []Participant
	Term         uint64
	ExpiresAt    int64
}

// Decide records and applies a decision. A pending state only records the
// participants (and deadline).
func (s *Service) Decide(ctx context.Context, req DecideRequest) (State, error) {
	switch req.State {
	case Pending:
		if _, err := s.call(ctx, req.TxnID, &opJoin{}); err != nil && len(req.Participants) == 0 {
			return "", err
		}
		for _, p := range req.Participants {
			if _, err := s.call(ctx, req.TxnID, &opJoin{p: p}); err != nil {
				return "", err
			}
		}
		return Pending, nil
	case Commit, Rollback:
		return s.call(ctx, req.TxnID, &opDecide{want: req.State, extra: req.Participants, term: req.Term, expires: req.ExpiresAt})
	}
	return "", fmt.Errorf("%w: %q", ErrInvalidState, req.State)
}

// ApplyDecision is the resource-manager side (/v1/txn/commit and
// /v1/txn/rollback): it applies a decision taken by the coordinator to the
// given participants, or to those of this node's record when none are
// given. A decision from an older term is refused.
func (s *Service) ApplyDecision(ctx context.Context, req DecideRequest) (State, error) {
	if req.Term != 0 && req.Term < s.Term() {
		return "", fmt.Errorf("%w: %d < %d", ErrStaleTerm, req.Term, s.Term())
	}
	if !req.State.Decided() {
		return "", fmt.Errorf("%w: %q", ErrInvalidState, req.State)
	}
	if len(req.Participants) > 0 {
		return s.call(ctx, req.TxnID, &opApply{state: req.State, parts: req.Participants})
	}
	st, err := s.call(ctx, req.TxnID, &opGet{})
	if err != nil {
		return "", err
	}
	if st == Pending {
		return s.call(ctx, req.TxnID, &opDecide{want: req.State, term: req.Term})
	}
	if st != req.State {
		return st, fmt.Errorf("%w: transaction is %s", ErrDecided, st)
	}
	return s.call(ctx, req.TxnID, &opReplay{})
}

// Replay re-applies a decided transaction, or rolls back a pending one whose
// participants are gone; it returns the state.
func (s *Service) Replay(ctx context.Context, txnID string) (State, error) {
	return s.call(ctx, txnID, &opReplay{})
}

// State returns a transaction's recorded state.
func (s *Service) State(ctx context.Context, txnID string) (State, error) {
	return s.call(ctx, txnID, &opGet{})
}

func (s *Service) enlistOrigin(ctx context.Context, txnID string, p Participant) error {
	return s.keys.Enlist(ctx, keyspace.Ref{Namespace: p.Namespace, Key: p.Key}, txnID)
}

// Recover loads the coordinator's records after a start: undecided and
// unapplied transactions enter the directory, decided ones are applied
// again. It also starts the term.
func (s *Service) Recover(ctx context.Context) error {
	if err := s.tc.start(ctx); err != nil {
		return err
	}
	return s.each(ctx, func(id string, rec record) {
		if rec.Applied {
			return
		}
		s.dir.Store(id, struct{}{})
		if rec.State.Decided() {
			s.reg.Send(id, newRequest(&opReplay{}))
		}
	})
}

// each calls fn for every coordinator record.
func (s *Service) each(ctx context.Context, fn func(string, record)) error {
	after := ""
	for {
		keys, err := s.st.List(ctx, recordPrefix, after, 500)
		if err != nil {
			return fmt.Errorf("%w: list: %w", ErrUnavailable, err)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			got, err := s.st.Get(ctx, k)
			if err != nil {
				continue
			}
			rec, err := decodeRecord(got.Value)
			if err != nil {
				continue
			}
			fn(strings.TrimPrefix(k, recordPrefix), rec)
		}
		after = keys[len(keys)-1]
	}
}

// Sweep replays pending transactions (rolling back those whose
// participants are gone) and deletes applied records past the retention.
func (s *Service) Sweep(ctx context.Context) error {
	cutoff := s.clock.Now().Add(-s.cfg.Retention).Unix()
	var replay, expired []string
	err := s.each(ctx, func(id string, rec record) {
		switch {
		case rec.Applied && rec.Decided < cutoff:
			expired = append(expired, id)
		case !rec.Applied:
			replay = append(replay, id)
		}
	})
	for _, id := range replay {
		s.Replay(ctx, id)
	}
	for _, id := range expired {
		s.st.Delete(ctx, recordKey(id), store.Cond{})
	}
	return err
}
