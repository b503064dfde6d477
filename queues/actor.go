package queues

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

// request is one call into a queue actor. The actor answers every request
// exactly once on reply (buffered), possibly later (blocked dequeues).
// request is a message a caller waits on (actors.Request: one reply,
// parked when the actor queues it as a waiting consumer).
type request = actors.Request

func newRequest(op any) *request { return actors.NewRequest(op) }

// Timer messages.
type (
	tickMsg        struct{}
	waiterDeadline struct{ c *consumer }
)

// outcome is a success reply held until the batch of its turn is written.
type outcome struct {
	ok   func(store.Durable)
	fail func(error)
}

// queueActor is the actor of one queue and its DLQ.
type queueActor struct {
	svc    *Service
	ref    Ref // the base queue
	self   *actor.PID
	system *actor.ActorSystem
	// tctx carries the trace span of the request being served (nil
	// between turns), so store calls made for it are its children.
	tctx context.Context

	core   *core
	loaded bool
	last   store.Durable // the latest write
	warm   int64         // inline payload bytes held in memory
	fresh  []*entry      // enqueued this turn: keepInline after the write

	waiters  []*consumer // blocked dequeues, FIFO
	subs     []*consumer // subscriptions
	watchers []*watcher
	outcomes []outcome

	timer   clock.Timer
	timerAt int64

	backlog *backlog // this queue's share of the backlog gauges (backlog.go)
	moved   bool     // the queue left this node: publish no more counts
}

// Receive is the actor's switch: lifecycle, requests, timers.
func (a *queueActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.system = ctx.Self(), ctx.ActorSystem()
		a.backlog = a.svc.holdBacklog(actorID(a.ref))
		a.turn(nil, func() {})
	case *actors.Passivate:
		if m.Moved {
			a.stopAll(&domainerr.Error{Err: ErrMoved, Detail: "the queue moved to another node; retry", RetryAfter: time.Second})
			a.moved = true
			a.backlog.publish(nil)
		}
		m.Reply(ctx, len(a.waiters) == 0 && len(a.subs) == 0 && len(a.watchers) == 0)
	case *actor.Stopping, *actor.Restarting:
		a.stopAll(fail(ErrUnavailable, "queue actor stopped"))
		if a.backlog != nil {
			a.svc.releaseBacklog(actorID(a.ref), a.backlog)
			a.backlog = nil
		}
	case *request:
		a.turn(m, func() { a.handle(m) })
	case tickMsg:
		a.timerAt = 0
		a.turn(nil, func() { a.core.expire(a.now()) })
	case waiterDeadline:
		a.turn(nil, func() { a.timeoutWaiter(m.c) })
	}
}

func (a *queueActor) now() time.Time { return a.svc.clock.Now() }

// turn runs fn and then everything a change can cause: consumers are
// served, the batch is written, watchers are told and the timer is armed.
// A panic fails req and every consumer before the supervisor restarts us.
func (a *queueActor) turn(req *request, fn func()) {
	if req != nil {
		a.tctx = req.TraceContext()
	}
	defer func() {
		a.tctx = nil
		if p := recover(); p != nil {
			err := fmt.Errorf("%w: internal error: %v", ErrUnavailable, p)
			if req != nil {
				req.Answer(nil, err, nil)
			}
			a.failOutcomes(err)
			a.stopAll(err)
			panic(p)
		}
	}()
	if !a.loaded {
		if err := a.load(); err != nil {
			if req != nil {
				req.Answer(nil, err, nil)
			}
			return
		}
		a.core.expire(a.now()) // deadlines that passed while we were away
	}
	fn()
	a.serveConsumers()
	a.flush()
	a.notifyWatchers()
	a.armTimer()
	if a.loaded && !a.moved && a.backlog != nil {
		a.backlog.publish(a.core)
	}
}

func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// storeCtx is storeCtx under the trace span of the request being served.
func (a *queueActor) storeCtx() (context.Context, context.CancelFunc) {
	if a.tctx == nil {
		return storeCtx()
	}
	return context.WithTimeout(a.tctx, 30*time.Second)
}

// load reads both lanes from the store.
func (a *queueActor) load() error {
	ctx, cancel := a.storeCtx()
	defer cancel()
	c := newCore(keysFor(a.ref), a.svc.settings())
	now := a.now()
	for _, dead := range []bool{false, true} {
		if err := a.loadLane(ctx, c, c.lane(dead), now); err != nil {
			return fmt.Errorf("%w: load %s: %w", ErrUnavailable, a.ref.Name(), err)
		}
	}
	a.core, a.loaded, a.last, a.warm = c, true, store.Done, 0
	for _, l := range []*lane{c.main, c.dlq} {
		for _, e := range l.sorted() {
			a.keepInline(e)
		}
	}
	return nil
}

func (a *queueActor) loadLane(ctx context.Context, c *core, l *lane, now time.Time) error {
	prefix := c.keys.prefix(l.dead)
	after := ""
	for {
		ks, err := a.svc.st.List(ctx, prefix, after, 1000)
		if err != nil {
			return err
		}
		for _, k := range ks {
			rec, err := a.svc.st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			r, err := decodeRecord(rec.Value)
			if err != nil {
				return fmt.Errorf("corrupt record %s: %w", k, err)
			}
			l.insert(&entry{rec: r, etag: rec.ETag}, now)
		}
		if len(ks) < 1000 {
			return nil
		}
		after = ks[len(ks)-1]
	}
}

// flush writes the turn's batch and then answers the turn's outcomes. A
// failed write leaves memory ahead of the store: every consumer is failed
// and the queue reloads on its next message.
func (a *queueActor) flush() {
	ws, garbage := a.core.batch.take()
	counts := a.core.takeTally()
	outs := a.outcomes
	a.outcomes = nil
	if len(ws) == 0 {
		counts.publish()
		for _, o := range outs {
			o.ok(a.last)
		}
		a.fresh = nil
		return
	}
	ctx, cancel := a.storeCtx()
	defer cancel()
	thawed, err := a.thaw(ctx, ws)
	defer refreeze(thawed)
	if err != nil {
		a.writeFailed(outs, err)
		return
	}
	sops, live, err := ops(ws)
	if err != nil {
		a.writeFailed(outs, fmt.Errorf("%w: encode: %w", ErrUnavailable, err))
		return
	}
	tags, d, err := store.Apply(ctx, a.svc.st, sops)
	if errors.Is(err, store.ErrConflict) {
		a.writeFailed(outs, fail(ErrConflict, "queue records changed in the store; retry"))
		return
	}
	if err != nil {
		a.writeFailed(outs, fmt.Errorf("%w: write %s: %w", ErrUnavailable, a.ref.Name(), err))
		return
	}
	for i, w := range live {
		if !w.del {
			w.e.etag = tags[i]
		}
	}
	a.last = d
	counts.publish()
	for _, o := range outs {
		o.ok(d)
	}
	for _, e := range a.fresh {
		a.keepInline(e)
	}
	a.fresh = nil
	if len(garbage) > 0 {
		go a.svc.collect(d, garbage)
	}
}

func (a *queueActor) writeFailed(outs []outcome, err error) {
	a.fresh = nil
	for _, o := range outs {
		o.fail(err)
	}
	a.stopAll(err)
	a.loaded = false
}

func (a *queueActor) failOutcomes(err error) {
	outs := a.outcomes
	a.outcomes = nil
	for _, o := range outs {
		o.fail(err)
	}
}

// later holds a success reply until the turn's batch is durable; val is
// computed then, when ETags are known.
func (a *queueActor) later(req *request, val func() any) {
	a.outcomes = append(a.outcomes, outcome{
		ok:   func(d store.Durable) { req.Answer(val(), nil, d) },
		fail: func(err error) { req.Answer(nil, err, nil) },
	})
}

// armTimer keeps one timer at the earliest delay end or visibility
// deadline of either lane.
func (a *queueActor) armTimer() {
	if !a.loaded {
		return
	}
	at, ok := a.core.main.nextDeadline()
	if d, dok := a.core.dlq.nextDeadline(); dok && (!ok || d < at) {
		at, ok = d, true
	}
	if !ok {
		a.stopTimer()
		return
	}
	if a.timer != nil && a.timerAt == at {
		return
	}
	a.stopTimer()
	a.timerAt = at
	self, system := a.self, a.system
	a.timer = a.svc.clock.AfterFunc(time.Unix(0, at).Sub(a.now()), func() {
		system.Root.Send(self, tickMsg{})
	})
}

func (a *queueActor) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer, a.timerAt = nil, 0
	}
}

// stopAll fails every consumer and watcher and stops the timer.
func (a *queueActor) stopAll(err error) {
	for _, c := range a.waiters {
		a.dropWaiter(c)
		c.req.Answer(nil, err, nil)
	}
	a.waiters = nil
	for _, c := range a.subs {
		a.svc.consumers.Add(-1)
		c.sub.close(err)
	}
	a.subs = nil
	for _, w := range a.watchers {
		w.close(err)
	}
	a.watchers = nil
	a.stopTimer()
}
