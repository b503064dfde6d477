package queues

import (
	"slices"
	"sync"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// consumer is a blocked dequeue (a waiter, answered once with up to max
// messages) or a subscription (standing, limited by its prefetch credit).
type consumer struct {
	dlq    bool
	owner  string
	vis    time.Duration
	txn    string // "" mints one per delivery
	max    int
	credit int

	req   *request      // waiter
	timer clock.Timer   // waiter deadline
	sub   *Subscription // subscription
}

// serveConsumers hands ready messages to waiters (first come, first
// served) and then to subscriptions with credit, in each lane.
func (a *queueActor) serveConsumers() {
	for _, dead := range []bool{false, true} {
		l := a.core.lane(dead)
		for i := 0; i < len(a.waiters); {
			c := a.waiters[i]
			if c.dlq != dead || a.core.next(a.now(), l) == nil {
				i++
				continue
			}
			a.waiters = slices.Delete(a.waiters, i, i+1)
			a.dropWaiter(c)
			ds := a.take(l, c, c.max)
			a.later(c.req, func() any { return a.deliveries(ds) })
		}
		for progress := true; progress; {
			progress = false
			for _, c := range a.subs {
				if c.dlq != dead || c.credit <= 0 || a.core.next(a.now(), l) == nil {
					continue
				}
				ds := a.take(l, c, 1) // round-robin: one per subscription per pass
				a.pushLater(c, ds)
				progress = true
			}
		}
	}
}

// take delivers up to n ready messages from l to c.
func (a *queueActor) take(l *lane, c *consumer, n int) []*entry {
	now := a.now()
	var out []*entry
	for len(out) < n {
		e := a.core.next(now, l)
		if e == nil {
			break
		}
		g := grant{owner: c.owner, leaseID: a.svc.newID(), txn: c.txn, vis: c.vis}
		if g.txn == "" {
			g.txn = a.svc.newID()
		}
		if c.sub != nil {
			g.sub = c
		}
		a.core.deliver(now, l, e, g)
		out = append(out, e)
	}
	return out
}

// deliveries snapshots delivered entries once their batch is written.
func (a *queueActor) deliveries(es []*entry) []*Delivery {
	out := make([]*Delivery, len(es))
	for i, e := range es {
		ref := a.ref
		ref.DLQ = e.rec.Dead != nil
		out[i] = &Delivery{Message: message(ref, e), inline: e.rec.Inline, blob: e.rec.Blob, svc: a.svc}
	}
	return out
}

func (a *queueActor) pushLater(c *consumer, es []*entry) {
	a.outcomes = append(a.outcomes, outcome{
		ok:   func(d store.Durable) { c.sub.push(a.deliveries(es), d) },
		fail: func(error) {}, // the subscription is closed by stopAll
	})
}

// addWaiter blocks a dequeue until a message is ready or wait passes.
func (a *queueActor) addWaiter(c *consumer, wait time.Duration) {
	self, system := a.self, a.system
	c.timer = a.svc.clock.AfterFunc(wait, func() { system.Root.Send(self, waiterDeadline{c: c}) })
	a.waiters = append(a.waiters, c)
	a.svc.consumers.Add(1)
}

// dropWaiter undoes addWaiter's bookkeeping (the caller removes c from the
// list).
func (a *queueActor) dropWaiter(c *consumer) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	a.svc.consumers.Add(-1)
}

// removeWaiter takes the waiter with req out and reports whether it was
// there.
func (a *queueActor) removeWaiter(match func(*consumer) bool) (*consumer, bool) {
	i := slices.IndexFunc(a.waiters, match)
	if i < 0 {
		return nil, false
	}
	c := a.waiters[i]
	a.waiters = slices.Delete(a.waiters, i, i+1)
	a.dropWaiter(c)
	return c, true
}

func (a *queueActor) timeoutWaiter(c *consumer) {
	if _, ok := a.removeWaiter(func(w *consumer) bool { return w == c }); ok {
		c.req.Answer(nil, fail(ErrEmpty, "no messages available"), nil)
	}
}

// watcher receives availability events of one lane; only the latest
// unread event is kept.
type watcher struct {
	dlq    bool
	mu     sync.Mutex
	latest *Event
	err    error
	signal chan struct{}
	sent   Event // last event queued, to skip repeats
	primed bool
}

func newWatcher(dlq bool) *watcher { return &watcher{dlq: dlq, signal: make(chan struct{}, 1)} }

func (w *watcher) publish(ev Event) {
	if w.primed && w.sent.Available == ev.Available && w.sent.HeadID == ev.HeadID &&
		w.sent.Ready == ev.Ready && w.sent.InFlight == ev.InFlight {
		return
	}
	w.primed, w.sent = true, ev
	w.mu.Lock()
	w.latest = &ev
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *watcher) close(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (a *queueActor) notifyWatchers() {
	if len(a.watchers) == 0 || !a.loaded {
		return
	}
	var evs [2]*Event
	for _, w := range a.watchers {
		i := 0
		if w.dlq {
			i = 1
		}
		if evs[i] == nil {
			ev := a.event(w.dlq)
			evs[i] = &ev
		}
		w.publish(*evs[i])
	}
}

func (a *queueActor) event(dlq bool) Event {
	l := a.core.lane(dlq)
	ref := a.ref
	ref.DLQ = dlq
	ev := Event{Ref: ref, Ready: l.readyN(), InFlight: l.inflightN(), ChangedAt: a.now()}
	if e := l.head(); e != nil {
		ev.Available, ev.HeadID = true, e.rec.ID
	}
	return ev
}
