package keyspace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/store"
)

// request is one call into a key actor. The actor answers every request
// exactly once on reply (buffered), possibly later (blocked acquires).
// request is a message a caller waits on (actors.Request: one reply,
// parked when the actor queues it as a waiter).
type request = actors.Request

func newRequest(op any) *request { return actors.NewRequest(op) }

// Timer messages.
type waiterDeadline struct{ req *request }
type leaseDeadline struct{}

// keyActor is the actor of one key.
type keyActor struct {
	svc    *Service
	ref    Ref
	id     string // actorID(ref)
	recKey string
	self   *actor.PID
	system *actor.ActorSystem
	// tctx carries the trace span of the request being served (nil
	// between requests), so store calls made for it are its children.
	tctx context.Context

	rec     record
	etag    string // store ETag of rec; "" when the record does not exist
	loaded  bool
	last    store.Durable // the latest write
	waiters []*waiter
	// pending are blobs being uploaded for this key (not yet staged): the
	// sweeper must not take them for orphans.
	pending map[string]struct{}
	scratch []byte // encode buffer, reused by every persist

	leaseTimer    clock.Timer
	leaseTimerFor int64     // Expires the timer was armed for
	leaseTimerAt  time.Time // when it fires
	// retells counts the re-settles of a lapsed lease that awaits its
	// transaction's decision while waiters wait (see armLeaseTimer).
	retells int

	op   [1]store.Op // persist's batch (stores do not keep it)
	pub  *published  // what public readers see (see published.go)
	slot *pubSlot    // this actor's entry in the service's table
}

type waiter struct {
	req   *request
	op    *opAcquire
	timer clock.Timer
}

func (a *keyActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.system = ctx.Self(), ctx.ActorSystem()
		a.load()
	case *actors.Passivate:
		if m.Moved {
			a.failWaiters(&domainerr.Error{Err: ErrMoved, Detail: "the key moved to another node; retry", RetryAfter: time.Second})
		}
		m.Reply(ctx, len(a.waiters) == 0 && len(a.pending) == 0)
	case *actor.Stopping:
		a.stopTimers()
		a.unpublish()
		waiting.Add(-int64(len(a.waiters))) // a closing registry stops actors that still have waiters
		a.waiters = nil
	case *actor.Restarting:
		a.unpublish()
		waiting.Add(-int64(len(a.waiters)))
		a.waiters = nil
	case *request:
		a.serve(m)
	case waiterDeadline:
		a.timeoutWaiter(m.req)
	case leaseDeadline:
		a.settle(a.now())
		a.armLeaseTimer()
	}
}

// serve handles one request, turning a panic into an error reply (for the
// request and every waiter) before letting the supervisor restart us.
func (a *keyActor) serve(req *request) {
	a.tctx = req.TraceContext()
	defer func() {
		a.tctx = nil
		if p := recover(); p != nil {
			err := fmt.Errorf("%w: internal error: %v", ErrUnavailable, p)
			req.Answer(nil, err, nil)
			a.failWaiters(err)
			panic(p)
		}
	}()
	if !a.loaded {
		if err := a.load(); err != nil {
			req.Answer(nil, err, nil)
			return
		}
	}
	if hook := a.svc.cfg.testHook; hook != nil {
		hook(a.ref, req.Op)
	}
	a.dispatch(req)
	a.armLeaseTimer()
}

func (a *keyActor) now() time.Time { return a.svc.clock.Now() }

// storeCtx bounds one store call. Local stores (pebble, memory: those
// with atomic batches) answer without network waits, so they get no timer:
// creating one per write was a measurable cost of every lock cycle.
func (s *Service) storeCtx() (context.Context, context.CancelFunc) {
	if s.local {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// storeCtx is Service.storeCtx under the trace span of the request being
// served.
func (a *keyActor) storeCtx() (context.Context, context.CancelFunc) {
	base := a.tctx
	if base == nil {
		base = context.Background()
	}
	if a.svc.local {
		return base, func() {}
	}
	return context.WithTimeout(base, 30*time.Second)
}

// load reads the record from the store (ErrNotFound means a fresh key).
func (a *keyActor) load() error {
	ctx, cancel := a.storeCtx()
	defer cancel()
	rec, err := a.svc.st.Get(ctx, a.recKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.rec, a.etag = record{}, ""
	case err != nil:
		a.unpublish()
		return fmt.Errorf("%w: load %s: %w", ErrUnavailable, a.recKey, err)
	default:
		r, derr := decodeRecord(rec.Value)
		if derr != nil {
			a.unpublish()
			return fmt.Errorf("keyspace: load %s: %w", a.recKey, derr)
		}
		a.rec, a.etag = r, rec.ETag
	}
	a.loaded, a.last = true, store.Done
	a.publish(store.Done)
	return nil
}

// persist writes next conditionally on the record's current ETag. On
// success it becomes the actor's state and garbage blobs are deleted once
// the write is durable.
func (a *keyActor) persist(next record, garbage []string) (store.Durable, error) {
	// Every store copies the value before Apply returns, so one buffer per
	// actor serves every write.
	val := next.appendTo(a.scratch[:0])
	a.scratch = val
	cond := store.Cond{IfMatch: a.etag, IfNotExists: a.etag == ""}
	ctx, cancel := a.storeCtx()
	defer cancel()
	a.op[0] = store.Op{Key: a.recKey, Value: val, Cond: cond}
	tags, d, err := store.Apply(ctx, a.svc.st, a.op[:])
	a.op[0] = store.Op{}
	if errors.Is(err, store.ErrConflict) {
		a.loaded = false // reload before the next request
		a.unpublish()
		return nil, &domainerr.Error{Err: ErrConflict, Detail: "record changed in the store; retry"}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", ErrUnavailable, a.recKey, err)
	}
	a.rec, a.etag, a.last = next, tags[0], d
	a.publish(d)
	if len(garbage) > 0 {
		go a.svc.collect(d, garbage)
	}
	return d, nil
}

// settle expires a lapsed lease, discarding its staged writes, and hands
// the key to the next waiter. An enlisted lease is not dropped: its
// transaction is told, rolls back and applies the rollback here. A lease
// in doubt (prepared by another island's coordinator) waits for that
// coordinator's decision: this island cannot decide it.
func (a *keyActor) settle(now time.Time) {
	if !a.rec.expired(now) {
		return
	}
	if l := a.rec.Lease; a.enlisted(l) {
		if l.PreparedBy == "" {
			a.svc.coord.Expired(l.Txn, a.ref)
		}
		return
	}
	a.dropOrigin(a.rec.Lease.Txn)
	next, garbage := a.rec.dropLease("expired")
	a.handoff(now, next, garbage, true)
}

// handoff persists next after granting the lease to the first eligible
// waiter, if the key is free. expired says next drops a lapsed lease: it
// is counted once durable, before the waiter hears of it.
func (a *keyActor) handoff(now time.Time, next record, garbage []string, expired bool) (store.Durable, error) {
	var granted *waiter
	for len(a.waiters) > 0 && next.live(now) == nil {
		w := a.waiters[0]
		a.waiters = a.waiters[1:]
		waiting.Add(-1)
		w.timer.Stop()
		if w.op.IfNotExists && next.exists(now) {
			w.req.Answer(nil, next.fail(ErrAlreadyExists, "key already exists"), a.last)
			continue
		}
		next = next.grant(now, w.op.Owner, w.op.leaseID, w.op.txnID, w.op.TTL, w.op.Enlist)
		granted = w
	}
	d, err := a.persist(next, garbage)
	if expired && err == nil {
		leasesExpired.Inc()
	}
	if granted != nil {
		if err != nil {
			granted.req.Answer(nil, err, nil)
		} else {
			if granted.op.TxnID == "" { // minted here, as in acquire: joiners must find it
				a.svc.origins.put(granted.op.txnID, a.ref, next.Lease.expiresAt(), now, false)
			}
			leasesAcquired.Inc()
			leaseHandoffs.Inc()
			granted.req.Answer(a.lease(granted.op), nil, d)
		}
	}
	return d, err
}

func (a *keyActor) lease(op *opAcquire) Lease {
	l := a.rec.Lease
	return Lease{
		Ref: a.ref, Owner: l.Owner, LeaseID: l.ID, TxnID: l.Txn, ExpiresAt: l.expiresAt(),
		Fencing: l.Fencing, Version: a.rec.Version, ETag: a.rec.ETag,
	}
}

func (a *keyActor) enqueue(req *request, op *opAcquire) {
	w := &waiter{req: req, op: op}
	req.Park()
	w.timer = a.svc.clock.AfterFunc(op.Wait, func() {
		a.system.Root.Send(a.self, waiterDeadline{req: req})
	})
	a.waiters = append(a.waiters, w)
	waiting.Add(1)
}

// removeWaiter takes req out of the queue and reports whether it was there.
func (a *keyActor) removeWaiter(req *request) bool {
	for i, w := range a.waiters {
		if w.req == req {
			w.timer.Stop()
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			waiting.Add(-1)
			return true
		}
	}
	return false
}

func (a *keyActor) timeoutWaiter(req *request) {
	if a.removeWaiter(req) {
		req.Answer(nil, a.waiting(a.now()), nil)
	}
	a.armLeaseTimer()
}

// waiting is the error for an acquire that found the lease held.
func (a *keyActor) waiting(now time.Time) *domainerr.Error {
	e := a.rec.fail(ErrWaiting, "lease already held")
	e.RetryAfter = time.Second
	if l := a.rec.live(now); l != nil {
		e.RetryAfter = max(l.expiresAt().Sub(now), time.Second)
	}
	return e
}

func (a *keyActor) failWaiters(err error) {
	for _, w := range a.waiters {
		w.timer.Stop()
		w.req.Answer(nil, err, nil)
	}
	waiting.Add(-int64(len(a.waiters)))
	a.waiters = nil
	a.stopTimers()
}

// armLeaseTimer keeps one timer at the lease's expiry while anyone waits.
// Once the lease has lapsed but awaits its transaction's decision, the
// timer settles it again after a pause (1 s, doubling up to 30 s), so the
// coordinator is told again until the decision reaches the key: a telling
// may have failed (no TC leader during a partition) and the waiters would
// otherwise wait for another request to settle the key.
func (a *keyActor) armLeaseTimer() {
	l := a.rec.Lease
	if len(a.waiters) == 0 || l == nil {
		a.stopTimers()
		return
	}
	now := a.now()
	if a.leaseTimerFor != l.Expires {
		a.retells = 0
	}
	armed := a.leaseTimer != nil && a.leaseTimerFor == l.Expires
	at := l.expiresAt()
	if a.awaitsDecision(now) {
		if armed && a.leaseTimerAt.After(now) {
			return
		}
		at = now.Add(retellPause(a.retells))
		a.retells++
	} else if armed {
		return
	}
	a.stopTimers()
	a.leaseTimerFor, a.leaseTimerAt = l.Expires, at
	a.leaseTimer = a.svc.clock.AfterFunc(at.Sub(now), func() {
		a.system.Root.Send(a.self, leaseDeadline{})
	})
}

// retellPause is the pause before the n-th (0-based) re-settle of a lapsed
// lease awaiting its transaction's decision.
func retellPause(n int) time.Duration {
	return min(time.Second<<min(n, 5), 30*time.Second)
}

func (a *keyActor) stopTimers() {
	if a.leaseTimer != nil {
		a.leaseTimer.Stop()
		a.leaseTimer = nil
	}
}

func (a *keyActor) addPending(blob string) {
	if blob == "" {
		return
	}
	if a.pending == nil {
		a.pending = map[string]struct{}{}
	}
	a.pending[blob] = struct{}{}
}
