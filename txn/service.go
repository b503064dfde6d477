package txn

import (
	"context"
	"errors"
	"fmt"
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
	// FanoutTimeout bounds one prepare or apply round over every
	// participant, retries included (default 30s).
	FanoutTimeout time.Duration
	// Fanout tunes each remote call of a round (--tc-fanout-*).
	Fanout Fanout
	// ReplayInterval is how often the leader replays unapplied decisions
	// and pending transactions (default 5s).
	ReplayInterval time.Duration
	// BackendHash names this node's store (RM registry, island routing).
	BackendHash string
	// Leadership says whether this node leads the TC (nil: it always
	// does, a single node on its store).
	Leadership Leadership
	// Remote reaches other nodes and islands (nil: none).
	Remote Remote
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
	// caller sends requests to the transaction actors and awaits them.
	caller actors.Caller
	// serial numbers the actors' operations (see result).
	serial atomic.Uint64
	// retries holds the armed retry timer of each txn id.
	retries sync.Map // txn id -> clock.Timer
	closed  atomic.Bool
	dir     sync.Map // txn ids with a record not yet fully applied
	// expiring holds the participants whose expiry is being told (Expired).
	expiring sync.Map // expiring -> struct{}
	lead     Leadership
	solo     *soloLeader // lead when this node leads itself
	// remote is set by SetRemote before serving, never written again.
	remote Remote
	// foreign caches the highest term seen from each other island's TC.
	foreign sync.Map // backend hash -> *atomic.Uint64
	// replayAt and sweepAt are where the last bounded replay and sweep
	// rounds stopped: the next round goes on from there.
	replayAt, sweepAt cursor
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
	if cfg.ReplayInterval <= 0 {
		cfg.ReplayInterval = 5 * time.Second
	}
	cfg.Fanout = cfg.Fanout.withDefaults()
	cfg.Actors.Clock = cfg.Clock
	s := &Service{st: st, keys: keys, rm: &localRM{keys: keys, msgs: cfg.Messages}, cfg: cfg, clock: cfg.Clock,
		log: cfg.Logger.With().Str("sys", "txn.tc").Logger(), lead: cfg.Leadership, remote: cfg.Remote}
	if s.lead == nil {
		s.solo = &soloLeader{st: st}
		s.lead = s.solo
	}
	s.reg = actors.NewRegistry(system, func(id string) actor.Actor { return &txnActor{svc: s, id: id} }, cfg.Actors)
	// Nothing to withdraw when a caller stops waiting: the operation runs
	// to its end and reports its own failures.
	s.caller = actors.Caller{Registry: s.reg, Unavailable: ErrUnavailable, Abandon: func(string, *request) {}}
	keys.SetCoordinator(s)
	return s
}

// SetRemote installs the transport to other nodes; call it before Recover
// and serving (the edge that implements it is built after the service).
func (s *Service) SetRemote(r Remote) { s.remote = r }

// Close stops the transaction actors and their retry timers.
func (s *Service) Close() {
	s.closed.Store(true)
	s.retries.Range(func(id, t any) bool {
		t.(interface{ Stop() bool }).Stop()
		s.retries.Delete(id)
		return true
	})
	s.reg.Close()
}

// Multi implements keyspace.Coordinator.
func (s *Service) Multi(txnID string) bool {
	_, ok := s.dir.Load(txnID)
	return ok
}

// Expired implements keyspace.Coordinator: the transaction rolls back (or,
// if already decided, applies its decision to ref, or a rollback when the
// decision does not list ref). The key tells again at every settle of its
// lapsed lease until the decision reaches it; one telling per participant
// is in flight at a time, so a key settled often (touched, swept) does not
// queue one per settle at the coordinator.
func (s *Service) Expired(txnID string, ref keyspace.Ref) {
	k := expiring{txnID: txnID, ref: ref}
	if _, busy := s.expiring.LoadOrStore(k, struct{}{}); busy {
		return
	}
	p := Participant{Namespace: ref.Namespace, Key: ref.Key}
	go func() { // the key actor called: never block it
		defer s.expiring.Delete(k)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FanoutTimeout)
		defer cancel()
		var err error
		if s.leads() {
			_, err = s.call(ctx, txnID, &opExpired{p: p})
		} else {
			_, err = s.atLeader(ctx, DecideRequest{TxnID: txnID, State: Rollback, Participants: []Participant{p}})
		}
		if err != nil && !errors.Is(err, ErrAborted) && !s.closed.Load() {
			s.log.Warn().Err(err).Str("txn_id", txnID).Str("key", ref.Key).Msg("telling the TC that a participant expired failed; the key tells again when its lease is next settled")
		}
	}()
}

// expiring names a participant whose expiry is being told.
type expiring struct {
	txnID string
	ref   keyspace.Ref
}

// leads reports whether this node decides (it leads the TC, or there is
// no other node to ask).
func (s *Service) leads() bool {
	_, ok := s.lead.Leading()
	return ok || s.remote == nil
}

// atLeader sends a join (state pending) or a decision to the TC leader.
func (s *Service) atLeader(ctx context.Context, req DecideRequest) (State, error) {
	ep := s.lead.LeaderEndpoint()
	if ep == "" {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, ErrNoLeader)
	}
	return s.remote.Decide(ctx, ep, req)
}

// coordinate runs op on this node's actor when it leads, else sends req to
// the leader.
func (s *Service) coordinate(ctx context.Context, id string, op any, req DecideRequest) (State, error) {
	if s.leads() {
		return s.call(ctx, id, op)
	}
	return s.atLeader(ctx, req)
}

// outcome is what a caller that names participants (mine) learns of a
// decision: success once it is durable and each of mine has applied it. A
// fan-out still failing elsewhere has been logged and counted, and the
// coordinator retries it; it is not this caller's failure. A caller that
// names none (tooling) learns of every failure. An aborted commit is
// always the caller's failure.
func outcome(st State, err error, mine []Participant) (State, error) {
	var fe *FanoutError
	if err == nil || errors.Is(err, ErrAborted) || !errors.As(err, &fe) || !fe.reached(mine) {
		return st, err
	}
	return fe.State, nil
}

// call runs op on transaction id's actor and awaits its answer.
func (s *Service) call(ctx context.Context, id string, op any) (State, error) {
	v, err := s.caller.Call(ctx, id, op, nil)
	if err != nil {
		return "", err
	}
	return v.(State), nil
}

// Term is the coordinator's term while this node leads, else 0.
func (s *Service) Term() uint64 {
	t, _ := s.lead.Leading()
	return t
}

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
	if err := s.join(ctx, req.TxnID, p); err != nil {
		// The key cannot join: give its lease back, staging nothing.
		bg, cancel := context.WithTimeout(context.Background(), s.cfg.FanoutTimeout)
		defer cancel()
		if _, rerr := s.keys.ApplyTxn(bg, l.Ref, l.TxnID, false, keyspace.OwnTC); rerr != nil {
			s.log.Warn().Err(rerr).Str("txn_id", req.TxnID).Str("key", l.Key).Msg("giving back the lease of a key that could not join failed; it expires")
		}
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
	st, err := s.coordinate(ctx, req.TxnID, &opDecide{want: want, requester: &p},
		DecideRequest{TxnID: req.TxnID, State: want, Participants: []Participant{p}})
	if _, err := outcome(st, err, []Participant{p}); err != nil {
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
	st, err := s.coordinate(ctx, txnID, &opDecide{want: want, requester: &p},
		DecideRequest{TxnID: txnID, State: want, Participants: []Participant{p}})
	_, err = outcome(st, err, []Participant{p})
	return true, err
}

// Enlist adds a participant (a dequeued message) to a transaction.
func (s *Service) Enlist(ctx context.Context, txnID string, p Participant) error {
	return s.join(ctx, txnID, p)
}

// join records p as a participant of txnID at the leader, with the key
// that minted the transaction: found on this node, or enlisted by the node
// that has it.
func (s *Service) join(ctx context.Context, txnID string, p Participant) error {
	var origin *Participant
	enlisted := false // a remote origin comes enlisted by its node
	if o, ok := s.keys.Origin(txnID); ok {
		origin = &Participant{Namespace: o.Namespace, Key: o.Key}
	} else if s.remote != nil {
		o, err := s.remote.Origin(ctx, txnID)
		if err != nil && o == nil {
			// A node that did not answer (or could not enlist it) may hold
			// the key that minted the transaction. Joining without it
			// would let a commit leave that key out while its holder
			// counts on it: refuse, and the client retries.
			s.log.Warn().Err(err).Str("txn_id", txnID).Msg("asking the other nodes for the transaction's first key failed; the join is refused")
			return fmt.Errorf("%w: could not learn which key minted transaction %s: %w", ErrUnavailable, txnID, err)
		}
		origin, enlisted = o, o != nil
	}
	if s.leads() {
		_, err := s.call(ctx, txnID, &opJoin{p: p, origin: origin, enlisted: enlisted})
		return err
	}
	parts := []Participant{p}
	if origin != nil && !origin.same(p) {
		if !enlisted {
			// The origin is this node's: enlist it in its record, as the
			// leader does for its own, so that a node that takes the key
			// over still knows it follows the transaction.
			ok, err := s.enlistOrigin(ctx, txnID, *origin)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if !ok {
				origin = nil // its lease ended: it decided alone
			}
		}
		if origin != nil {
			parts = append(parts, *origin)
		}
	}
	if _, err := s.atLeader(ctx, DecideRequest{TxnID: txnID, State: Pending, Participants: parts}); err != nil {
		return err
	}
	s.dir.Store(txnID, struct{}{}) // its participants here must not decide alone
	return nil
}

// EnlistOrigin enlists the key of this node that minted txnID (another
// node's participant joins it) and returns it; ok is false when no key of
// this node minted txnID or its lease is gone.
func (s *Service) EnlistOrigin(ctx context.Context, txnID string) (Participant, bool, error) {
	o, ok := s.keys.Origin(txnID)
	if !ok {
		return Participant{}, false, nil
	}
	p := Participant{Namespace: o.Namespace, Key: o.Key}
	if ok, err := s.enlistOrigin(ctx, txnID, p); !ok {
		return Participant{}, false, err
	}
	s.dir.Store(txnID, struct{}{})
	return p, true, nil
}

// PrepareLocal reports whether every participant in parts can still
// commit (the RM side of a prepare). from is the backend hash of the TC
// that asks: another island's TC reaches any node of this cluster, which
// asks each participant's owner, relaying for that TC (relayFor). A yes
// to another island's TC puts the participant in doubt: only that TC's
// decision settles it (keyspace.ErrInDoubt).
func (s *Service) PrepareLocal(ctx context.Context, txnID, from, relayFor string, parts []Participant) error {
	by := s.decider(from, relayFor, 1)
	local, err := s.atOwners(ctx, from, parts, func(ctx context.Context, ep string, p Participant) error {
		return s.remote.Prepare(ctx, ep, txnID, by, []Participant{p})
	})
	if err != nil {
		return err
	}
	for _, p := range local {
		if err := s.rm.Prepare(ctx, txnID, p, by); err != nil {
			return fmt.Errorf("participant %s: %w", p.describe(), err)
		}
	}
	return nil
}

// atOwners sends, for a request of another island's TC (from), each
// participant of this store that another node of this cluster owns to that
// node with send, and returns the participants this node serves. A
// request of this cluster's own TC was routed to the owner already (and
// is not routed again, so that two nodes that disagree on an owner do not
// bounce it).
func (s *Service) atOwners(ctx context.Context, from string, parts []Participant, send func(context.Context, string, Participant) error) ([]Participant, error) {
	if s.remote == nil || from == "" || from == s.cfg.BackendHash {
		return parts, nil
	}
	var local, away []Participant
	for _, p := range parts {
		if p.BackendHash != "" && p.BackendHash != s.cfg.BackendHash {
			local = append(local, p) // not this store's: the local RM refuses or ignores it as before
			continue
		}
		ep, err := s.route(ctx, p)
		if err != nil {
			return nil, err
		}
		if ep == "" {
			local = append(local, p)
		} else {
			away = append(away, p)
		}
	}
	err := s.forEach(ctx, away, func(ctx context.Context, p Participant) error {
		return s.retry(ctx, nil, func(actx context.Context) error {
			ep, err := s.route(actx, p)
			if err != nil {
				return err
			}
			if ep == "" {
				return noRetry(fmt.Errorf("%w: owner of %s moved here", ErrUnavailable, p.describe()))
			}
			return send(actx, ep, p)
		})
	}, false)
	return local, err
}

// DecideRequest records a decision (the /v1/txn/decide endpoint).
type DecideRequest struct {
	TxnID        string
	State        State
	Participants []Participant
	Term         uint64
	ExpiresAt    int64
	// Target is the backend hash of the RM a decision is sent to
	// (target_backend_hash); From the backend hash of the TC that decided
	// (X-Lockd-TC-Backend), "" for this store's own TC.
	Target, From string
	// RelayFor is the backend hash of another island's TC whose decision
	// a node of this cluster relays to the participant's owner
	// (X-Lockd-TC-Relay-For); "" otherwise.
	RelayFor string
}

// decider names who takes a decision (or prepares) that reached this RM
// from the TC of backend from, relayed for relayFor: another island's TC
// (its backend hash), this island's own (keyspace.OwnTC), or, for a
// request without TC backend and term, an operator's tool
// (keyspace.OperatorTC), which may settle a participant in doubt.
func (s *Service) decider(from, relayFor string, term uint64) string {
	switch {
	case from != "" && from != s.cfg.BackendHash:
		return from
	case relayFor != "" && relayFor != s.cfg.BackendHash:
		return relayFor
	case from == "" && term == 0:
		return keyspace.OperatorTC
	}
	return keyspace.OwnTC
}

// Decide records and applies a decision. A pending state only records the
// participants (and deadline).
func (s *Service) Decide(ctx context.Context, req DecideRequest) (State, error) {
	switch req.State {
	case Pending:
		if !s.leads() {
			return s.atLeader(ctx, req)
		}
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
		st, err := s.coordinate(ctx, req.TxnID, &opDecide{want: req.State, extra: req.Participants, term: req.Term, expires: req.ExpiresAt}, req)
		return outcome(st, err, req.Participants)
	}
	return "", fmt.Errorf("%w: %q", ErrInvalidState, req.State)
}

// ApplyDecision is the resource-manager side (/v1/txn/commit and
// /v1/txn/rollback): it applies a decision taken by the coordinator to the
// given participants, or to those of this node's record when none are
// given. A decision from an older term is refused.
func (s *Service) ApplyDecision(ctx context.Context, req DecideRequest) (State, error) {
	if err := s.checkTerm(ctx, req); err != nil {
		return "", err
	}
	if !req.State.Decided() {
		return "", fmt.Errorf("%w: %q", ErrInvalidState, req.State)
	}
	if len(req.Participants) > 0 {
		by := s.decider(req.From, req.RelayFor, req.Term)
		local, err := s.atOwners(ctx, req.From, req.Participants, func(ctx context.Context, ep string, p Participant) error {
			// The term was checked here; the owner applies in this cluster.
			return s.remote.Apply(ctx, ep, DecideRequest{TxnID: req.TxnID, State: req.State, Participants: []Participant{p}, Target: p.BackendHash, RelayFor: by})
		})
		if err != nil {
			return "", err
		}
		if len(local) == 0 {
			return req.State, nil
		}
		return s.call(ctx, req.TxnID, &opApply{state: req.State, parts: local, by: by})
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

// enlistOrigin enlists p, the key that minted txnID, in its record. ok is
// false with no error when its lease of txnID is gone (it decided alone);
// an error means it may still hold that lease (a store that failed, a
// record another node changed), and a joiner must not go on without it.
func (s *Service) enlistOrigin(ctx context.Context, txnID string, p Participant) (ok bool, err error) {
	err = s.keys.Enlist(ctx, keyspace.Ref{Namespace: p.Namespace, Key: p.Key}, txnID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, keyspace.ErrLeaseRequired):
		return false, nil
	}
	return false, fmt.Errorf("enlisting %s, the key that minted transaction %s: %w", p.describe(), txnID, err)
}

// Recover loads the coordinator's records after a start: undecided and
// unapplied transactions enter the directory, decided ones are applied
// again. It also starts the term.
func (s *Service) Recover(ctx context.Context) error {
	if s.solo != nil {
		if err := s.solo.start(ctx); err != nil {
			return err
		}
	}
	return s.each(ctx, func(id string, rec record) {
		if rec.Applied {
			return
		}
		s.dir.Store(id, struct{}{})
		if rec.State.Decided() && s.leads() {
			s.reg.Send(id, actors.NewRequest(&detached{op: &opReplay{}}))
		}
	})
}

// Run replays, while this node leads, every decided transaction that is
// not fully applied and every pending one whose participants are gone or
// whose deadline passed: at once when it becomes leader (a previous
// leader may have died between decision and fan-out), then every
// ReplayInterval. It returns when parent is done.
func (s *Service) Run(parent context.Context) {
	tick := time.NewTicker(min(time.Second, s.cfg.ReplayInterval))
	defer tick.Stop()
	var term uint64
	var last time.Time
	for {
		select {
		case <-parent.Done():
			return
		case <-tick.C:
		}
		t, ok := s.lead.Leading()
		if !ok || (t == term && s.clock.Now().Sub(last) < s.cfg.ReplayInterval) {
			continue
		}
		term, last = t, s.clock.Now()
		if err := s.replayUnapplied(parent); err != nil {
			s.log.Warn().Err(err).Msg("replaying unapplied transactions failed")
		}
	}
}

// replayUnapplied replays every record not yet applied, going on where
// the previous round stopped if ctx cut it short. Every store call of the
// scan and every replay has its own FanoutTimeout: under one
// deadline for the whole round, a store with many retained records (or a
// slow one) ran out of time part way through the listing every round,
// and the records listed last (the newest: ids sort by time) were never
// replayed.
func (s *Service) replayUnapplied(ctx context.Context) error {
	var ids []string
	err := s.eachFrom(ctx, &s.replayAt, func(id string, rec record) {
		if !rec.Applied {
			ids = append(ids, id)
		}
	})
	for _, id := range ids {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.FanoutTimeout)
		_, rerr := s.Replay(rctx, id)
		cancel()
		if rerr != nil && !errors.Is(rerr, ErrNotFound) && !errors.Is(rerr, ErrFanout) {
			// (a fan-out failure was reported by the actor)
			s.log.Warn().Err(rerr).Str("txn_id", id).Msg("replay failed; retrying next round")
		}
	}
	return err
}

// Sweep replays pending transactions (rolling back those whose
// participants are gone) and deletes applied records past the retention.
// A sweep that ctx cuts short goes on, next time, where it stopped.
func (s *Service) Sweep(ctx context.Context) error {
	cutoff := s.clock.Now().Add(-s.cfg.Retention).Unix()
	var replay, expired []string
	err := s.eachFrom(ctx, &s.sweepAt, func(id string, rec record) {
		switch {
		case rec.Applied && rec.Decided < cutoff:
			expired = append(expired, id)
		case !rec.Applied:
			replay = append(replay, id)
		}
	})
	if s.leads() {
		for _, id := range replay {
			if _, err := s.Replay(ctx, id); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrFanout) {
				s.log.Warn().Err(err).Str("txn_id", id).Msg("sweep: replay failed")
			}
		}
	}
	for _, id := range expired {
		if derr := s.st.Delete(ctx, recordKey(id), store.Cond{}); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			s.log.Warn().Err(derr).Str("txn_id", id).Msg("sweep: deleting an applied record past retention failed; next sweep retries")
		}
	}
	return err
}
