package queues

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The tests in this file drive the pure core with explicit times: no
// actors, no store, no sleeping.

var t0 = time.Unix(1_700_000_000, 0)

type coreEnv struct {
	t    *testing.T
	c    *core
	now  time.Time
	seq  int
	sub  *consumer
	last map[string]Proof // id -> proof of its latest delivery
}

func newCoreEnv(t *testing.T) *coreEnv {
	k := keysFor(Ref{Namespace: "ns", Queue: "q"})
	c := newCore(k, settings{defaultVisibility: 10 * time.Second, maxVisibility: time.Minute, defaultMaxAttempts: 3})
	return &coreEnv{t: t, c: c, now: t0, last: map[string]Proof{}}
}

func (e *coreEnv) advance(d time.Duration) {
	e.now = e.now.Add(d)
	e.c.expire(e.now)
	e.commit()
}

// commit pretends the batch was written: records get ETags.
func (e *coreEnv) commit() {
	ws, _ := e.c.batch.take()
	for _, w := range ws {
		if !w.del && !w.skip {
			e.seq++
			w.e.etag = fmt.Sprintf("e%d", e.seq)
		}
	}
}

func (e *coreEnv) enqueue(id string, mut ...func(*record)) {
	r := record{ID: id, EnqueuedAt: e.now.UnixNano(), VisibleAt: e.now.UnixNano()}
	for _, m := range mut {
		m(&r)
	}
	e.c.enqueue(e.now, r)
	e.commit()
}

// deliver takes the next message of a lane, or returns "".
func (e *coreEnv) deliver(dlq bool) string {
	l := e.c.lane(dlq)
	m := e.c.next(e.now, l)
	if m == nil {
		e.commit()
		return ""
	}
	e.seq++
	g := grant{owner: "w", leaseID: fmt.Sprintf("L%d", e.seq), txn: "T", sub: e.sub}
	e.c.deliver(e.now, l, m, g)
	e.commit()
	e.last[m.rec.ID] = Proof{LeaseID: g.leaseID, Fencing: m.rec.Fencing, TxnID: "T", MetaETag: m.etag}
	return m.rec.ID
}

func (e *coreEnv) msg(dlq bool, id string) *entry {
	m := e.c.lane(dlq).msgs[id]
	if m == nil {
		e.t.Fatalf("%s not in lane (dlq=%v)", id, dlq)
	}
	return m
}

func TestCoreDeliversInEnqueueOrder(t *testing.T) {
	e := newCoreEnv(t)
	for _, id := range []string{"a", "b", "c"} {
		e.enqueue(id)
	}
	for _, want := range []string{"a", "b", "c", ""} {
		if got := e.deliver(false); got != want {
			t.Fatalf("delivered %q, want %q", got, want)
		}
	}
	if m := e.msg(false, "a"); m.rec.Attempts != 1 || m.rec.Fencing != 1 || m.where != inflight {
		t.Fatalf("a after delivery: %+v where=%d", m.rec, m.where)
	}
}

func TestCoreVisibilityTimeoutRedelivers(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a")
	e.enqueue("b")
	e.deliver(false) // a
	e.advance(9 * time.Second)
	if got := e.deliver(false); got != "b" {
		t.Fatalf("before the timeout got %q, want b", got)
	}
	e.advance(time.Second) // a's visibility (10s) ends
	if got := e.deliver(false); got != "a" {
		t.Fatalf("after the timeout got %q, want a", got)
	}
	m := e.msg(false, "a")
	if m.rec.Attempts != 2 || m.rec.Failures != 1 || m.rec.Fencing != 2 {
		t.Fatalf("redelivered a: attempts=%d failures=%d fencing=%d", m.rec.Attempts, m.rec.Failures, m.rec.Fencing)
	}
}

func TestCoreProofChecks(t *testing.T) {
	cases := []struct {
		name  string
		after time.Duration
		mut   func(*Proof)
		want  error
	}{
		{"ok", 0, func(*Proof) {}, nil},
		{"other lease", 0, func(p *Proof) { p.LeaseID = "nope" }, ErrLeaseRequired},
		{"stale fencing", 0, func(p *Proof) { p.Fencing++ }, ErrFencingMismatch},
		{"txn", 0, func(p *Proof) { p.TxnID = "other" }, ErrTxnMismatch},
		{"meta etag", 0, func(p *Proof) { p.MetaETag = "old" }, ErrMetaChanged},
		{"quoted etag", 0, func(p *Proof) { p.MetaETag = `"` + p.MetaETag + `"` }, nil},
		{"expired", 10 * time.Second, func(*Proof) {}, ErrLeaseExpired},
		{"unknown", 0, func(*Proof) {}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCoreEnv(t)
			e.enqueue("a")
			e.deliver(false)
			p := e.last["a"]
			tc.mut(&p)
			e.now = e.now.Add(tc.after) // no expire: the timer has not fired yet
			id := "a"
			if tc.name == "unknown" {
				id = "zz"
			}
			_, err := e.c.check(e.now, e.c.main, id, p)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("check: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCoreAckDeletesOnce(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a", func(r *record) { r.Blob = "ns/q/q:p/a" })
	e.deliver(false)
	if _, err := e.c.ack(e.now, e.c.main, "a", e.last["a"]); err != nil {
		t.Fatal(err)
	}
	ws, garbage := e.c.batch.take()
	if len(ws) != 1 || !ws[0].del || ws[0].ifMatch == "" || len(garbage) != 1 {
		t.Fatalf("ack writes %+v garbage %v", ws, garbage)
	}
	if _, err := e.c.ack(e.now, e.c.main, "a", e.last["a"]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second ack: %v", err)
	}
}

func TestCoreNackIntents(t *testing.T) {
	cases := []struct {
		name     string
		intents  []NackIntent
		failures int
		dead     bool
	}{
		{"defer never counts", []NackIntent{IntentDefer, IntentDefer, IntentDefer, IntentDefer}, 0, false},
		{"failures below max", []NackIntent{IntentFailure, IntentDefer, IntentFailure}, 2, false},
		{"failures reach max", []NackIntent{IntentFailure, IntentFailure, IntentFailure}, 3, true},
		{"empty intent is failure", []NackIntent{"", "", ""}, 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCoreEnv(t)
			e.enqueue("a") // max attempts: the default, 3
			var dead bool
			for i, in := range tc.intents {
				if got := e.deliver(false); got != "a" {
					t.Fatalf("nack %d: delivered %q", i, got)
				}
				var err error
				_, dead, err = e.c.nack(e.now, e.c.main, "a", e.last["a"], in, 0, []byte(`{"n":1}`))
				if err != nil {
					t.Fatal(err)
				}
				e.commit()
			}
			m := e.msg(tc.dead, "a")
			if dead != tc.dead || m.rec.Failures != tc.failures || m.rec.Attempts != len(tc.intents) {
				t.Fatalf("dead=%v failures=%d attempts=%d", dead, m.rec.Failures, m.rec.Attempts)
			}
			if tc.dead && (m.rec.Dead == nil || m.rec.Dead.Reason != ReasonMaxAttempts || m.where != ready) {
				t.Fatalf("dead letter: %+v where=%d", m.rec.Dead, m.where)
			}
		})
	}
}

func TestCoreNackDelay(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a")
	e.deliver(false)
	if _, _, err := e.c.nack(e.now, e.c.main, "a", e.last["a"], IntentDefer, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	e.commit()
	if got := e.deliver(false); got != "" {
		t.Fatalf("delayed message delivered early: %q", got)
	}
	e.advance(5 * time.Second)
	if got := e.deliver(false); got != "a" {
		t.Fatalf("after the delay: %q", got)
	}
}

func TestCoreTimeoutsDeadLetter(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a", func(r *record) { r.MaxAttempts = 2; r.CorrelationID = "cid" })
	for i := 0; i < 2; i++ {
		if got := e.deliver(false); got != "a" {
			t.Fatalf("delivery %d: %q", i, got)
		}
		e.advance(10 * time.Second)
	}
	m := e.msg(true, "a")
	if m.rec.CorrelationID != "cid" || m.rec.Dead.Reason != ReasonMaxAttempts || len(e.c.main.msgs) != 0 {
		t.Fatalf("dead letter %+v, main %d", m.rec, len(e.c.main.msgs))
	}
	// The DLQ can be drained like a queue; DLQ failures never dead-letter.
	for i := 0; i < 5; i++ {
		if got := e.deliver(true); got != "a" {
			t.Fatalf("dlq delivery %d: %q", i, got)
		}
		e.advance(10 * time.Second)
	}
	e.deliver(true)
	if _, err := e.c.ack(e.now, e.c.dlq, "a", e.last["a"]); err != nil {
		t.Fatal(err)
	}
	if len(e.c.dlq.msgs) != 0 {
		t.Fatal("ack did not drain the dlq")
	}
}

func TestCoreTTLMovesToDLQ(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a", func(r *record) { r.ExpiresAt = e.now.Add(5 * time.Second).UnixNano() })
	e.enqueue("b")
	e.advance(5 * time.Second)
	if got := e.deliver(false); got != "b" {
		t.Fatalf("got %q, want b (a expired)", got)
	}
	if m := e.msg(true, "a"); m.rec.Dead.Reason != ReasonExpired {
		t.Fatalf("expired reason %q", m.rec.Dead.Reason)
	}
}

func TestCoreExtend(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a")
	e.deliver(false)
	e.advance(8 * time.Second)
	_, by, err := e.c.extend(e.now, e.c.main, "a", e.last["a"], 20*time.Second)
	if err != nil || by != 20*time.Second {
		t.Fatalf("extend: %v %v", by, err)
	}
	e.commit()
	e.advance(19 * time.Second)
	if got := e.deliver(false); got != "" {
		t.Fatalf("redelivered during the extension: %q", got)
	}
	e.advance(time.Second)
	if got := e.deliver(false); got != "a" {
		t.Fatalf("after the extension: %q", got)
	}
	_, by, _ = e.c.extend(e.now, e.c.main, "a", e.last["a"], time.Hour)
	if by != time.Minute {
		t.Fatalf("extension not clamped: %v", by)
	}
}

func TestCoreRequeue(t *testing.T) {
	e := newCoreEnv(t)
	for _, id := range []string{"a", "b", "c"} {
		e.enqueue(id, func(r *record) { r.MaxAttempts = 1 })
		e.deliver(false)
		if _, _, err := e.c.nack(e.now, e.c.main, id, e.last[id], IntentFailure, 0, nil); err != nil {
			t.Fatal(err)
		}
		e.commit()
	}
	if got := e.deliver(true); got != "a" { // a is being drained: not requeued
		t.Fatalf("dlq head %q", got)
	}
	done, skipped := e.c.requeue(e.now, nil, true, 0)
	e.commit()
	if fmt.Sprint(done, skipped) != "[b c] [a]" {
		t.Fatalf("requeue all: done %v skipped %v", done, skipped)
	}
	if m := e.msg(false, "b"); m.rec.Failures != 0 || m.rec.Dead != nil || m.rec.Attempts != 1 {
		t.Fatalf("requeued b: %+v", m.rec)
	}
	_, skipped = e.c.requeue(e.now, []string{"zz"}, false, 0)
	if fmt.Sprint(skipped) != "[zz]" {
		t.Fatalf("unknown id not skipped: %v", skipped)
	}
}

func TestCoreBatchCollapsesWrites(t *testing.T) {
	e := newCoreEnv(t)
	// Enqueue and immediate delivery: one create of the leased record.
	e.c.enqueue(e.now, record{ID: "a", VisibleAt: e.now.UnixNano()})
	e.c.deliver(e.now, e.c.main, e.c.next(e.now, e.c.main), grant{leaseID: "L"})
	ws, _ := e.c.batch.take()
	if len(ws) != 1 || !ws[0].create || ws[0].e.rec.Lease == nil {
		t.Fatalf("enqueue+deliver: %+v", ws)
	}
	ws[0].e.etag = "e1"
	// A move to the DLQ: delete the old record if unchanged, create the new.
	m := e.c.main.msgs["a"]
	e.c.deadLetter(e.now, m, ReasonMaxAttempts)
	ws, _ = e.c.batch.take()
	if len(ws) != 2 || !ws[0].del || ws[0].ifMatch != "e1" || !ws[1].create || ws[1].key != "ns/q/q:d/a" {
		t.Fatalf("dead letter writes: %+v %+v", ws[0], ws[1])
	}
	// Created and removed in one batch: nothing to write.
	e.c.enqueue(e.now, record{ID: "b", VisibleAt: e.now.UnixNano()})
	b := e.c.main.msgs["b"]
	e.c.main.drop(b)
	e.c.batch.remove(e.c, e.c.main, b)
	sops, _, err := ops(e.c.batch.writes)
	if err != nil || len(sops) != 0 {
		t.Fatalf("create+delete produced %v %v", sops, err)
	}
}

func TestCoreSubscriptionCredit(t *testing.T) {
	e := newCoreEnv(t)
	e.sub = &consumer{credit: 2}
	for _, id := range []string{"a", "b", "c"} {
		e.enqueue(id)
	}
	e.deliver(false)
	e.deliver(false)
	if e.sub.credit != 0 {
		t.Fatalf("credit %d after two deliveries", e.sub.credit)
	}
	if _, err := e.c.ack(e.now, e.c.main, "a", e.last["a"]); err != nil {
		t.Fatal(err)
	}
	e.advance(10 * time.Second) // b times out
	if e.sub.credit != 2 {
		t.Fatalf("credit %d after ack and timeout", e.sub.credit)
	}
}

func TestCoreDelayedEnqueue(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a", func(r *record) { r.VisibleAt = e.now.Add(3 * time.Second).UnixNano() })
	e.enqueue("b")
	if got := e.deliver(false); got != "b" {
		t.Fatalf("got %q, want b", got)
	}
	if at, ok := e.c.main.nextDeadline(); !ok || at != e.now.Add(3*time.Second).UnixNano() {
		t.Fatalf("next deadline %v %v", at, ok)
	}
	e.advance(3 * time.Second)
	if got := e.deliver(false); got != "a" {
		t.Fatalf("got %q after the delay, want a", got)
	}
}
