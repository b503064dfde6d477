package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/failpoint"
	"github.com/lockdhq/lockd/store"
)

type request struct {
	op    any
	reply chan reply
}

type reply struct {
	state State
	err   error
}

func newRequest(op any) *request { return &request{op: op, reply: make(chan reply, 1)} }

// Operations on a transaction.
type (
	opJoin struct {
		p      Participant
		origin *Participant
	}
	opDecide struct {
		want      State
		requester *Participant
		extra     []Participant
		term      uint64
		expires   int64
	}
	opExpired struct{ p Participant }
	opReplay  struct{}
	opGet     struct{}
	// opApply applies a decision taken elsewhere (the RM endpoints).
	opApply struct {
		state State
		parts []Participant
	}
)

// snapshot is the actor's record state handed to a run.
type snapshot struct {
	rec    record
	etag   string
	exists bool
	loaded bool
}

type done struct {
	req   *request
	snap  snapshot
	state State
	err   error
}

// txnActor serializes everything about one transaction. Work with I/O runs
// in a goroutine while the actor queues further requests, so the actor never
// blocks on storage or on key actors.
type txnActor struct {
	svc   *Service
	id    string
	self  *actor.PID
	sys   *actor.ActorSystem
	snap  snapshot
	busy  bool
	queue []*request
}

func (a *txnActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.sys = ctx.Self(), ctx.ActorSystem()
	case *actors.Passivate:
		m.Reply(ctx, !a.busy && len(a.queue) == 0)
	case *request:
		if a.busy {
			a.queue = append(a.queue, m)
			return
		}
		a.start(m)
	case *done:
		a.busy = false
		a.snap = m.snap
		m.req.reply <- reply{state: m.state, err: m.err}
		if len(a.queue) > 0 {
			next := a.queue[0]
			a.queue = a.queue[1:]
			a.start(next)
		}
	}
}

func (a *txnActor) start(req *request) {
	a.busy = true
	r := &run{svc: a.svc, id: a.id, snap: a.snap}
	go func() {
		state, err := r.do(req.op)
		a.sys.Root.Send(a.self, &done{req: req, snap: r.snap, state: state, err: err})
	}()
}

// run is one operation's work, off the actor.
type run struct {
	svc  *Service
	id   string
	snap snapshot
}

func (r *run) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.svc.cfg.FanoutTimeout)
}

func (r *run) do(op any) (State, error) {
	if err := r.load(); err != nil {
		return "", err
	}
	switch op := op.(type) {
	case *opJoin:
		return r.join(op)
	case *opDecide:
		return r.decide(op)
	case *opExpired:
		return r.decide(&opDecide{want: Rollback, requester: &op.p})
	case *opReplay:
		return r.replay()
	case *opGet:
		if !r.snap.exists {
			return "", ErrNotFound
		}
		return r.snap.rec.State, nil
	case *opApply:
		return op.state, r.applyLocal(op.parts, op.state)
	}
	return "", fmt.Errorf("txn: unknown operation %T", op)
}

func (r *run) load() error {
	if r.snap.loaded {
		return nil
	}
	ctx, cancel := r.ctx()
	defer cancel()
	got, err := r.svc.st.Get(ctx, recordKey(r.id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		r.snap = snapshot{loaded: true, rec: record{ID: r.id, State: Pending}}
		return nil
	case err != nil:
		return fmt.Errorf("%w: load %s: %w", ErrUnavailable, r.id, err)
	}
	rec, err := decodeRecord(got.Value)
	if err != nil {
		return fmt.Errorf("txn: record %s: %w", r.id, err) // store.ErrCorrupt: not retryable
	}
	r.snap = snapshot{rec: rec, etag: got.ETag, exists: true, loaded: true}
	return nil
}

// save writes the record durably, conditionally on the last ETag.
func (r *run) save(rec record) error {
	ctx, cancel := r.ctx()
	defer cancel()
	cond := store.Cond{IfMatch: r.snap.etag, IfNotExists: !r.snap.exists}
	tag, err := r.svc.st.Put(ctx, recordKey(r.id), rec.encode(), cond)
	if err != nil {
		r.snap.loaded = false // reload next time
		return fmt.Errorf("%w: write %s: %w", ErrUnavailable, r.id, err)
	}
	r.snap = snapshot{rec: rec, etag: tag, exists: true, loaded: true}
	return nil
}

func (r *run) join(op *opJoin) (State, error) {
	rec := r.snap.rec
	if rec.State.Decided() {
		return rec.State, ErrDecided
	}
	parts := rec.Participants
	if op.p.Namespace != "" { // a bare join (decide pending) only creates the record
		parts = with(parts, op.p)
	}
	if op.origin != nil && !r.snap.exists && !op.origin.same(op.p) {
		ctx, cancel := r.ctx()
		// The key that minted the txn becomes a participant if its lease
		// is still there; otherwise it already decided alone.
		if err := r.svc.enlistOrigin(ctx, r.id, *op.origin); err == nil {
			parts = with(parts, *op.origin)
		}
		cancel()
	}
	if !r.snap.exists {
		rec.Created = unix(r.svc.clock.Now())
	}
	rec.Participants = parts
	r.svc.dir.Store(r.id, struct{}{}) // before the write: a racing release must delegate
	if err := r.save(rec); err != nil {
		return "", err
	}
	return Pending, nil
}

// decide takes (or returns) the transaction's decision and applies it.
// Only the leader decides; the record is reread first, since a previous
// leader may have written it.
func (r *run) decide(op *opDecide) (State, error) {
	if err := r.reload(); err != nil {
		return "", err
	}
	rec := r.snap.rec
	if rec.State.Decided() {
		targets := rec.Participants
		if rec.Applied && op.requester != nil {
			targets = []Participant{*op.requester}
		}
		if err := r.fanout(rec, targets); err != nil {
			return rec.State, errors.Join(r.aborted(op.want, rec.State, nil), err)
		}
		return rec.State, r.aborted(op.want, rec.State, nil)
	}
	term, leading := r.svc.lead.Leading()
	if !leading {
		return "", fmt.Errorf("%w: this node no longer leads the TC", ErrUnavailable)
	}
	if op.term != 0 && op.term < term {
		return "", fmt.Errorf("%w: %d < %d", ErrStaleTerm, op.term, term)
	}
	parts := rec.Participants
	if op.requester != nil {
		parts = with(parts, *op.requester)
	}
	parts = with(parts, op.extra...)
	state, cause := op.want, error(nil)
	if state == Commit {
		if cause = r.prepare(parts); cause != nil {
			state = Rollback
		}
	}
	failpoint.Hit("txn-before-decision")
	rec.State, rec.Participants, rec.Term = state, parts, term
	rec.Decided = unix(r.svc.clock.Now())
	if op.expires != 0 {
		rec.Expires = op.expires
	}
	r.svc.dir.Store(r.id, struct{}{})
	if err := r.save(rec); err != nil {
		return "", err
	}
	decisionsRecorded.Inc()
	failpoint.Hit("txn-after-decision")
	if err := r.fanout(rec, parts); err != nil {
		// A rolled-back commit stays an abort for the caller even when
		// the fan-out has to finish by replay.
		return state, errors.Join(r.aborted(op.want, state, cause), err)
	}
	return state, r.aborted(op.want, state, cause)
}

// reload forgets the cached record, so the next load reads the store.
func (r *run) reload() error {
	r.snap.loaded = false
	return r.load()
}

// aborted turns a rollback of a requested commit into ErrAborted.
func (r *run) aborted(want, got State, cause error) error {
	if want == Commit && got == Rollback {
		if cause != nil {
			return fmt.Errorf("%w: %w", ErrAborted, cause)
		}
		return ErrAborted
	}
	return nil
}

func (r *run) prepare(parts []Participant) error {
	ctx, cancel := r.ctx()
	defer cancel()
	return r.svc.prepareAll(ctx, r.id, parts)
}

// fanout applies the recorded decision to targets, each through the node
// that serves it, and marks the record applied once every participant has
// it. A failure is returned (ErrFanout) and leaves the record unapplied:
// the leader's replay loop finishes it.
func (r *run) fanout(rec record, targets []Participant) error {
	ctx, cancel := r.ctx()
	defer cancel()
	// The fan-out carries the term of the leader that sends it: a new
	// leader re-sends a predecessor's durable decision in its own term,
	// and a deposed leader's sends are refused.
	term := rec.Term
	if t, ok := r.svc.lead.Leading(); ok {
		term = t
	}
	if err := r.svc.applyAll(ctx, r.id, term, rec.State, targets); err != nil {
		fanoutFailed.Inc()
		return fmt.Errorf("%w: %w", ErrFanout, err)
	}
	failpoint.Hit("txn-mid-apply")
	if rec.Applied {
		return nil
	}
	rec.Applied = true
	if err := r.save(rec); err != nil {
		return fmt.Errorf("%w: marking applied: %w", ErrFanout, err)
	}
	r.svc.dir.Delete(r.id)
	return nil
}

// applyLocal applies a decision taken elsewhere to participants this node
// serves (the RM side).
func (r *run) applyLocal(parts []Participant, state State) error {
	ctx, cancel := r.ctx()
	defer cancel()
	var errs []error
	for _, p := range parts {
		if err := r.svc.rm.Apply(ctx, r.id, p, state == Commit); err != nil {
			errs = append(errs, fmt.Errorf("participant %s: %w", p.describe(), err))
		}
	}
	return errors.Join(errs...)
}

// replay re-applies a decision, or rolls back a pending transaction whose
// participants are gone or whose deadline passed.
func (r *run) replay() (State, error) {
	if err := r.reload(); err != nil {
		return "", err
	}
	rec := r.snap.rec
	if !r.snap.exists {
		return "", ErrNotFound
	}
	if rec.State.Decided() {
		return rec.State, r.fanout(rec, rec.Participants)
	}
	expired := rec.Expires != 0 && r.svc.clock.Now().Unix() >= rec.Expires
	if !expired && r.prepare(rec.Participants) == nil {
		return Pending, nil
	}
	return r.decide(&opDecide{want: Rollback})
}

func (p Participant) describe() string {
	if p.Kind == KindMessage {
		return fmt.Sprintf("message %s/%s/%s", p.Namespace, p.Queue, p.MessageID)
	}
	return fmt.Sprintf("key %s/%s", p.Namespace, p.Key)
}
