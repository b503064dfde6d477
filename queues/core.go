package queues

import (
	"encoding/json"
	"time"
)

// The methods in this file are the queue's pure logic: they move messages
// between places and lanes at a given time and record which records must be
// written, with no I/O, no actors and no clock reads. The actor persists
// the recorded writes as one batch (writes.go) and answers only after it is
// durable.

// settings are the defaults the core applies.
type settings struct {
	defaultVisibility  time.Duration
	maxVisibility      time.Duration
	defaultMaxAttempts int
}

// core is the state of one queue: its main lane and its DLQ.
type core struct {
	cfg       settings
	keys      keys
	main, dlq *lane
	batch
	tally tally // what the current turn did (metrics.go)
}

func newCore(k keys, cfg settings) *core {
	return &core{cfg: cfg, keys: k, main: newLane(false), dlq: newLane(true)}
}

func (c *core) lane(dlq bool) *lane {
	if dlq {
		return c.dlq
	}
	return c.main
}

// grant describes a delivery to make.
type grant struct {
	owner, leaseID, txn string
	vis                 time.Duration // requested visibility; <= 0: the message's
	sub                 *consumer     // the subscription it counts against
}

// visibility resolves a delivery's visibility timeout: the request's, else
// the message's own, else the default; at most the maximum.
func (c *core) visibility(req time.Duration, r *record) time.Duration {
	v := req
	if v <= 0 {
		v = time.Duration(r.Visibility)
	}
	if v <= 0 {
		v = c.cfg.defaultVisibility
	}
	return min(v, c.cfg.maxVisibility)
}

// enqueue adds a new message to the main lane.
func (c *core) enqueue(now time.Time, rec record) *entry {
	if rec.MaxAttempts <= 0 {
		rec.MaxAttempts = c.cfg.defaultMaxAttempts
	}
	if rec.Visibility <= 0 {
		rec.Visibility = int64(c.cfg.defaultVisibility)
	}
	e := &entry{rec: rec}
	c.main.insert(e, now)
	c.batch.put(c, c.main, e)
	c.tally.enqueued++
	c.tally.enqueuedBytes += rec.Size
	return e
}

// next returns the next message to deliver from l, moving messages whose
// TTL ran out to the DLQ on the way.
func (c *core) next(now time.Time, l *lane) *entry {
	for {
		e := l.head()
		if e == nil || l.dead || !e.rec.ttlExpired(now) {
			return e
		}
		c.deadLetter(now, e, ReasonExpired)
	}
}

// deliver leases a ready message to a consumer: one more attempt, the next
// fencing token, visible again when the lease ends.
func (c *core) deliver(now time.Time, l *lane, e *entry, g grant) {
	r := &e.rec
	r.Attempts++
	r.Fencing++
	vis := c.visibility(g.vis, r)
	exp := now.Add(vis).UnixNano()
	r.Lease = &leaseRec{ID: g.leaseID, Owner: g.owner, Txn: g.txn, Expires: exp, Fencing: r.Fencing, Visibility: int64(vis)}
	r.VisibleAt = exp
	e.sub = g.sub
	if g.sub != nil {
		g.sub.credit--
	}
	l.set(e, now)
	c.batch.put(c, l, e)
	c.tally.delivered++
	c.tally.deliveredBytes += r.Size
}

// check verifies a delivery's proof at now.
func (c *core) check(now time.Time, l *lane, id string, p Proof) (*entry, error) {
	e := l.msgs[id]
	if e == nil {
		return nil, fail(ErrNotFound, "message not found")
	}
	ls := e.rec.Lease
	switch {
	case ls == nil || ls.ID != p.LeaseID:
		return nil, fail(ErrLeaseRequired, "message is not leased by this delivery")
	case now.UnixNano() >= ls.Expires:
		return nil, fail(ErrLeaseExpired, "delivery visibility timeout expired")
	case ls.Fencing != p.Fencing:
		return nil, fail(ErrFencingMismatch, "fencing token does not match the delivery")
	case p.TxnID != "" && p.TxnID != ls.Txn:
		return nil, fail(ErrTxnMismatch, "txn_id does not match the delivery")
	case p.MetaETag != "" && trimQuotes(p.MetaETag) != e.etag:
		return nil, fail(ErrMetaChanged, "meta_etag does not match the message")
	}
	return e, nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// settle ends e's delivery for its subscription, returning the credit.
func (c *core) settle(e *entry) {
	if e.sub != nil {
		e.sub.credit++
		e.sub = nil
	}
	e.rec.Lease = nil
}

// ack deletes a delivered message; its payload blob becomes garbage.
func (c *core) ack(now time.Time, l *lane, id string, p Proof) (*entry, error) {
	e, err := c.check(now, l, id, p)
	if err != nil {
		return nil, err
	}
	c.settle(e)
	l.drop(e)
	c.batch.remove(c, l, e)
	c.tally.acked++
	if e.rec.Blob != "" {
		c.garbage = append(c.garbage, e.rec.Blob)
	}
	return e, nil
}

// nack returns a delivered message after delay. A failure counts toward
// max_attempts and may move the message to the DLQ (reported as true).
func (c *core) nack(now time.Time, l *lane, id string, p Proof, intent NackIntent, delay time.Duration, lastErr json.RawMessage) (*entry, bool, error) {
	e, err := c.check(now, l, id, p)
	if err != nil {
		return nil, false, err
	}
	c.settle(e)
	c.tally.nacked++
	e.rec.VisibleAt = now.Add(max(delay, 0)).UnixNano()
	if intent != IntentDefer {
		e.rec.Failures++
		if len(lastErr) > 0 {
			e.rec.LastError = lastErr
		}
		if c.exhausted(l, e) {
			c.deadLetter(now, e, ReasonMaxAttempts)
			return e, true, nil
		}
	}
	l.set(e, now)
	c.batch.put(c, l, e)
	return e, false, nil
}

func (c *core) exhausted(l *lane, e *entry) bool {
	return !l.dead && e.rec.Failures >= e.rec.MaxAttempts
}

// extend moves a delivery's visibility deadline to now + by (<= 0: the
// message's visibility timeout).
func (c *core) extend(now time.Time, l *lane, id string, p Proof, by time.Duration) (*entry, time.Duration, error) {
	e, err := c.check(now, l, id, p)
	if err != nil {
		return nil, 0, err
	}
	by = c.visibility(by, &e.rec)
	exp := now.Add(by).UnixNano()
	e.rec.Lease.Expires, e.rec.VisibleAt = exp, exp
	e.rec.Lease.Visibility = int64(by)
	l.set(e, now)
	c.batch.put(c, l, e)
	return e, by, nil
}

// release returns a delivery no consumer received (the caller left before
// it was handed over) without counting a failure.
func (c *core) release(now time.Time, l *lane, id, leaseID string) bool {
	e := l.msgs[id]
	if e == nil || e.rec.Lease == nil || e.rec.Lease.ID != leaseID {
		return false
	}
	c.settle(e)
	e.rec.VisibleAt = now.UnixNano()
	l.set(e, now)
	c.batch.put(c, l, e)
	return true
}

// expire handles every deadline due at now: delayed messages become ready,
// deliveries whose visibility ran out count a failure and become ready
// again or move to the DLQ.
func (c *core) expire(now time.Time) {
	for _, l := range []*lane{c.main, c.dlq} {
		for e := l.popDue(now); e != nil; e = l.popDue(now) {
			if e.where != inflight {
				l.set(e, now)
				continue
			}
			c.settle(e)
			c.tally.timedOut++
			e.rec.Failures++
			e.rec.VisibleAt = now.UnixNano()
			if c.exhausted(l, e) {
				c.deadLetter(now, e, ReasonMaxAttempts)
				continue
			}
			l.set(e, now)
			c.batch.put(c, l, e)
		}
	}
}

// deadLetter moves a main-lane message to the DLQ with its payload,
// attributes and correlation id.
func (c *core) deadLetter(now time.Time, e *entry, reason string) {
	c.settle(e)
	c.main.drop(e)
	c.batch.remove(c, c.main, e)
	e.etag = "" // the DLQ record is a new record
	e.rec.Dead = &deadRec{Reason: reason, At: now.UnixNano()}
	e.rec.VisibleAt = now.UnixNano()
	c.dlq.insert(e, now)
	c.batch.put(c, c.dlq, e)
	c.tally.dead[deadIndex(reason)]++
}

// requeue moves dead letters back into the main lane with a fresh failure
// budget. Dead letters being delivered from the DLQ are skipped.
func (c *core) requeue(now time.Time, ids []string, all bool, delay time.Duration) (done, skipped []string) {
	if all {
		ids = ids[:0:0]
		for _, e := range c.dlq.sorted() {
			ids = append(ids, e.rec.ID)
		}
	}
	for _, id := range ids {
		e := c.dlq.msgs[id]
		if e == nil || e.where == inflight {
			if !all || e != nil {
				skipped = append(skipped, id)
			}
			continue
		}
		c.dlq.drop(e)
		c.batch.remove(c, c.dlq, e)
		e.etag = ""
		e.rec.Dead, e.rec.Failures = nil, 0
		e.rec.VisibleAt = now.Add(max(delay, 0)).UnixNano()
		c.main.insert(e, now)
		c.batch.put(c, c.main, e)
		c.tally.requeued++
		done = append(done, id)
	}
	return done, skipped
}
