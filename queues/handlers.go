package queues

import (
	"encoding/json"
	"errors"
	"time"
)

// Operations sent to the queue actor. The service resolves defaults and
// builds records before sending.
type (
	opEnqueue struct{ rec record }
	opDequeue struct {
		dlq   bool
		owner string
		vis   time.Duration
		wait  time.Duration
		max   int
		txn   string
	}
	opAck struct {
		dlq bool
		id  string
		p   Proof
	}
	// opCheck verifies a delivery's proof without changing anything.
	opCheck struct {
		dlq bool
		id  string
		p   Proof
	}
	opNack struct {
		dlq     bool
		id      string
		p       Proof
		intent  NackIntent
		delay   time.Duration
		lastErr json.RawMessage
	}
	opExtend struct {
		dlq bool
		id  string
		p   Proof
		by  time.Duration
	}
	// opRelease returns deliveries no consumer received.
	opRelease struct {
		dlq      bool
		ids      []string
		leaseIDs []string
	}
	opStats       struct{ dlq bool }
	opCancel      struct{ target *request }
	opSubscribe   struct{ c *consumer }
	opUnsubscribe struct{ c *consumer }
	opWatch       struct{ w *watcher }
	opUnwatch     struct{ w *watcher }
	opList        struct {
		after string
		limit int
	}
	opRequeue struct {
		ids   []string
		all   bool
		delay time.Duration
	}
)

// settled is what ack, nack and extend report to the service, which needs
// the delivery's transaction to align the workflow-state lease.
type settled struct {
	txn, cid, etag string
	dead           bool
	expires        time.Time
	vis            time.Duration
}

func (a *queueActor) handle(req *request) {
	now := a.now()
	switch op := req.Op.(type) {
	case *opEnqueue:
		a.enqueue(now, req, op)
	case *opDequeue:
		a.dequeue(req, op)
	case *opAck:
		a.ack(now, req, op)
	case *opCheck:
		_, err := a.core.check(now, a.core.lane(op.dlq), op.id, op.p)
		req.Answer(nil, err, nil)
	case *opNack:
		a.nack(now, req, op)
	case *opExtend:
		a.extend(now, req, op)
	case *opRelease:
		l := a.core.lane(op.dlq)
		for i, id := range op.ids {
			a.core.release(now, l, id, op.leaseIDs[i])
		}
		a.later(req, func() any { return nil })
	case *opStats:
		req.Answer(a.stats(op.dlq), nil, nil)
	case *opCancel:
		if c, ok := a.removeWaiter(func(c *consumer) bool { return c.req == op.target }); ok {
			c.req.Answer(nil, fail(ErrUnavailable, "dequeue cancelled"), nil)
		}
		req.Answer(nil, nil, nil)
	case *opSubscribe:
		a.subs = append(a.subs, op.c)
		a.svc.consumers.Add(1)
		req.Answer(nil, nil, nil)
	case *opUnsubscribe:
		a.unsubscribe(op.c)
		req.Answer(nil, nil, nil)
	case *opWatch:
		a.watchers = append(a.watchers, op.w)
		op.w.publish(a.event(op.w.dlq))
		req.Answer(nil, nil, nil)
	case *opUnwatch:
		a.watchers = deleteItem(a.watchers, op.w)
		req.Answer(nil, nil, nil)
	case *opList:
		req.Answer(a.list(op), nil, a.last) // once what it shows is durable
	case *opOrphans:
		a.orphans(req, op)
	case *opRequeue:
		done, skipped := a.core.requeue(now, op.ids, op.all, op.delay)
		a.later(req, func() any { return RequeueResult{Requeued: done, Skipped: skipped} })
	default:
		req.Answer(nil, errors.New("queues: unknown operation"), nil)
	}
}

func deleteItem[T comparable](s []T, v T) []T {
	for i, x := range s {
		if x == v {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

func (a *queueActor) enqueue(now time.Time, req *request, op *opEnqueue) {
	e := a.core.enqueue(now, op.rec)
	a.fresh = append(a.fresh, e) // its payload budget is decided after the write
	res := EnqueueResult{
		Ref: a.ref, ID: e.rec.ID, MaxAttempts: e.rec.MaxAttempts, NotVisibleUntil: unixTime(e.rec.VisibleAt),
		Visibility: time.Duration(e.rec.Visibility), Size: e.rec.Size, CorrelationID: e.rec.CorrelationID,
	}
	a.later(req, func() any { return res })
}

// dequeue delivers at once when a message is ready, else waits (or says
// the queue is empty).
func (a *queueActor) dequeue(req *request, op *opDequeue) {
	c := &consumer{dlq: op.dlq, owner: op.owner, vis: op.vis, txn: op.txn, max: max(op.max, 1), req: req}
	l := a.core.lane(op.dlq)
	if a.core.next(a.now(), l) != nil && !a.hasWaiters(op.dlq) {
		ds := a.take(l, c, c.max)
		a.later(req, func() any { return a.deliveries(ds) })
		return
	}
	if op.wait <= 0 {
		req.Answer(nil, fail(ErrEmpty, "no messages available"), nil)
		return
	}
	req.Park()
	a.addWaiter(c, op.wait)
}

func (a *queueActor) hasWaiters(dlq bool) bool {
	for _, c := range a.waiters {
		if c.dlq == dlq {
			return true
		}
	}
	return false
}

func (a *queueActor) ack(now time.Time, req *request, op *opAck) {
	l := a.core.lane(op.dlq)
	txn := leaseTxn(l, op.id)
	e, err := a.core.ack(now, l, op.id, op.p)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	a.forget(e)
	s := settled{txn: txn, cid: e.rec.CorrelationID}
	a.later(req, func() any { return s })
}

// leaseTxn is the transaction of message id's current delivery.
func leaseTxn(l *lane, id string) string {
	if e := l.msgs[id]; e != nil && e.rec.Lease != nil {
		return e.rec.Lease.Txn
	}
	return ""
}

func (a *queueActor) nack(now time.Time, req *request, op *opNack) {
	l := a.core.lane(op.dlq)
	txn := leaseTxn(l, op.id)
	e, dead, err := a.core.nack(now, l, op.id, op.p, op.intent, op.delay, op.lastErr)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	a.later(req, func() any {
		s := settled{txn: txn, cid: e.rec.CorrelationID, dead: dead}
		if !dead {
			s.etag = e.etag
		}
		return s
	})
}

func (a *queueActor) extend(now time.Time, req *request, op *opExtend) {
	e, by, err := a.core.extend(now, a.core.lane(op.dlq), op.id, op.p, op.by)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	s := settled{txn: e.rec.Lease.Txn, cid: e.rec.CorrelationID, expires: unixTime(e.rec.Lease.Expires), vis: by}
	a.later(req, func() any {
		s.etag = e.etag
		return s
	})
}

// unsubscribe ends a subscription. Its unsettled deliveries stay in flight:
// the consumer may still ack them.
func (a *queueActor) unsubscribe(c *consumer) {
	n := len(a.subs)
	a.subs = deleteItem(a.subs, c)
	if len(a.subs) < n {
		a.svc.consumers.Add(-1)
	}
	for _, l := range []*lane{a.core.main, a.core.dlq} {
		for _, e := range l.msgs {
			if e.sub == c {
				e.sub = nil
			}
		}
	}
}

func (a *queueActor) stats(dlq bool) Stats {
	l := a.core.lane(dlq)
	ref := a.ref
	ref.DLQ = dlq
	st := Stats{
		Ref: ref, Ready: l.readyN(), Delayed: l.delayedN(), InFlight: l.inflightN(),
		DeadLetters: len(a.core.dlq.msgs), Watchers: len(a.watchers), TotalConsumers: a.svc.consumers.Load(),
	}
	for _, c := range a.waiters {
		if c.dlq == dlq {
			st.Waiting++
		}
	}
	for _, c := range a.subs {
		if c.dlq == dlq {
			st.Subscribers++
		}
	}
	if e := l.head(); e != nil {
		m := message(ref, e)
		st.Head = &m
	}
	return st
}

// list pages through the DLQ by message id.
func (a *queueActor) list(op *opList) DLQPage {
	var page DLQPage
	ref := a.ref
	ref.DLQ = true
	for _, e := range a.core.dlq.sorted() {
		if e.rec.ID <= op.after {
			continue
		}
		if len(page.Messages) == op.limit {
			page.Next = page.Messages[len(page.Messages)-1].ID
			break
		}
		page.Messages = append(page.Messages, message(ref, e))
	}
	return page
}
