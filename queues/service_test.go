package queues_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/store/mem"
)

type env struct {
	t   *testing.T
	st  *mem.Store
	clk *clock.Fake
	svc *queues.Service
	cfg queues.Config
}

func newEnv(t *testing.T, mutate ...func(*queues.Config)) *env {
	e := &env{t: t, st: mem.New(), clk: clock.NewFake(time.Unix(1_700_000_000, 0))}
	e.cfg = queues.Config{DefaultVisibility: 10 * time.Second, InlineMax: 16, Clock: e.clk, Actors: actors.Config{IdleAfter: -1}}
	for _, m := range mutate {
		m(&e.cfg)
	}
	e.start()
	return e
}

func (e *env) start() {
	e.svc = queues.New(actors.NewSystem(), e.st, e.cfg)
	e.t.Cleanup(e.svc.Close)
}

// crash simulates kill -9: only what the store made durable survives.
func (e *env) crash() {
	e.svc.Close()
	e.st = e.st.Crash()
	e.start()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var ref = queues.Ref{Namespace: "default", Queue: "jobs"}

func (e *env) enqueue(body string, mut ...func(*queues.EnqueueRequest)) queues.EnqueueResult {
	e.t.Helper()
	req := queues.EnqueueRequest{Ref: ref, ContentType: "text/plain", CorrelationID: "cid-" + body}
	for _, m := range mut {
		m(&req)
	}
	res, err := e.svc.Enqueue(ctx(e.t), req, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("enqueue %q: %v", body, err)
	}
	return res
}

func (e *env) dequeue(r queues.Ref, max int) []*queues.Delivery {
	e.t.Helper()
	ds, err := e.svc.Dequeue(ctx(e.t), queues.DequeueRequest{Ref: r, Owner: "w", Max: max})
	if err != nil {
		e.t.Fatalf("dequeue: %v", err)
	}
	return ds
}

func payload(t *testing.T, d *queues.Delivery) string {
	t.Helper()
	r, _, err := d.OpenPayload(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func proof(d *queues.Delivery) queues.Proof {
	return queues.Proof{LeaseID: d.LeaseID, Fencing: d.Fencing, TxnID: d.TxnID, MetaETag: d.MetaETag}
}

func (e *env) ack(d *queues.Delivery) error {
	_, err := e.svc.Ack(ctx(e.t), queues.AckRequest{Ref: d.Ref, ID: d.ID, Proof: proof(d)})
	return err
}

func (e *env) stats(r queues.Ref) queues.Stats {
	e.t.Helper()
	s, err := e.svc.Stats(ctx(e.t), r)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// waitFor polls cond (a cheap actor query) until it holds, with a bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func TestEnqueueDequeueAckInlineAndBlob(t *testing.T) {
	e := newEnv(t)
	small := e.enqueue("hi")
	big := strings.Repeat("x", 1000) // > InlineMax: a blob
	e.enqueue(big)
	if small.Size != 2 || small.MaxAttempts != 5 || small.Visibility != 10*time.Second {
		t.Fatalf("enqueue result %+v", small)
	}
	ds := e.dequeue(ref, 5)
	if len(ds) != 2 || payload(t, ds[0]) != "hi" || payload(t, ds[1]) != big {
		t.Fatalf("dequeued %d", len(ds))
	}
	d := ds[0]
	if d.Attempts != 1 || d.Fencing != 1 || d.CorrelationID != "cid-hi" || d.ContentType != "text/plain" || d.MetaETag == "" {
		t.Fatalf("delivery %+v", d.Message)
	}
	blobs, _ := e.st.ListBlobs(ctx(t), "", "", 0)
	if len(blobs) != 1 {
		t.Fatalf("blobs %v", blobs)
	}
	for _, d := range ds {
		if err := e.ack(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ack(ds[0]); !errors.Is(err, queues.ErrNotFound) {
		t.Fatalf("double ack: %v", err)
	}
	waitFor(t, "payload blob deleted", func() bool {
		b, _ := e.st.ListBlobs(ctx(t), "", "", 0)
		return len(b) == 0
	})
	if _, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "w"}); !errors.Is(err, queues.ErrEmpty) {
		t.Fatalf("empty queue: %v", err)
	}
}

func TestWaitingConsumerGetsNewMessage(t *testing.T) {
	e := newEnv(t)
	got := make(chan []*queues.Delivery, 1)
	go func() {
		ds, _ := e.svc.Dequeue(context.Background(), queues.DequeueRequest{Ref: ref, Owner: "w", Wait: time.Hour})
		got <- ds
	}()
	waitFor(t, "waiter", func() bool { return e.stats(ref).Waiting == 1 })
	e.enqueue("now")
	select {
	case ds := <-got:
		if len(ds) != 1 || payload(t, ds[0]) != "now" {
			t.Fatalf("waiter got %v", ds)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting consumer not served")
	}
}

func TestWaiterTimesOut(t *testing.T) {
	e := newEnv(t)
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Dequeue(context.Background(), queues.DequeueRequest{Ref: ref, Owner: "w", Wait: 5 * time.Second})
		errc <- err
	}()
	waitFor(t, "waiter", func() bool { return e.stats(ref).Waiting == 1 })
	e.clk.Advance(5 * time.Second)
	select {
	case err := <-errc:
		if !errors.Is(err, queues.ErrEmpty) {
			t.Fatalf("timed out waiter: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never answered")
	}
	if n := e.svc.Consumers(); n != 0 {
		t.Fatalf("consumers %d after timeout", n)
	}
}

func TestVisibilityTimeoutWakesWaiter(t *testing.T) {
	e := newEnv(t)
	e.enqueue("m")
	first := e.dequeue(ref, 1)[0]
	got := make(chan []*queues.Delivery, 1)
	go func() {
		ds, _ := e.svc.Dequeue(context.Background(), queues.DequeueRequest{Ref: ref, Owner: "w2", Wait: time.Hour})
		got <- ds
	}()
	waitFor(t, "waiter", func() bool { return e.stats(ref).Waiting == 1 })
	e.clk.Advance(10 * time.Second)
	var second *queues.Delivery
	select {
	case ds := <-got:
		second = ds[0]
	case <-time.After(10 * time.Second):
		t.Fatal("not redelivered")
	}
	if second.ID != first.ID || second.Attempts != 2 || second.FailureAttempts != 1 || second.Fencing <= first.Fencing {
		t.Fatalf("redelivery %+v", second.Message)
	}
	if err := e.ack(first); !errors.Is(err, queues.ErrLeaseRequired) {
		t.Fatalf("stale ack: %v", err)
	}
	if err := e.ack(second); err != nil {
		t.Fatal(err)
	}
}

func TestCrashKeepsEnqueuedAndAckedState(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.enqueue(fmt.Sprint("m", i))
	}
	ds := e.dequeue(ref, 3)
	if err := e.ack(ds[0]); err != nil {
		t.Fatal(err)
	}
	e.crash()
	// m1 and m2 are still in flight after the restart; their leases hold.
	if s := e.stats(ref); s.InFlight != 2 || s.Ready != 0 {
		t.Fatalf("after crash: %+v", s)
	}
	if err := e.ack(ds[1]); err != nil {
		t.Fatalf("ack across restart: %v", err)
	}
	e.clk.Advance(10 * time.Second)
	again := e.dequeue(ref, 5)
	if len(again) != 1 || payload(t, again[0]) != "m2" || again[0].Fencing != 2 {
		t.Fatalf("after timeout: %d deliveries", len(again))
	}
}

func TestDeadLetterListRequeueDrain(t *testing.T) {
	e := newEnv(t)
	e.enqueue("poison", func(r *queues.EnqueueRequest) { r.MaxAttempts = 2 })
	for i := 0; i < 2; i++ {
		d := e.dequeue(ref, 1)[0]
		res, err := e.svc.Nack(ctx(t), queues.NackRequest{Ref: ref, ID: d.ID, Proof: proof(d), LastError: []byte(`"boom"`)})
		if err != nil {
			t.Fatal(err)
		}
		if res.DeadLettered != (i == 1) {
			t.Fatalf("nack %d: %+v", i, res)
		}
	}
	dlq := queues.Ref{Namespace: "default", Queue: "jobs", DLQ: true}
	page, err := e.svc.ListDLQ(ctx(t), ref, "", 10)
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("list: %+v %v", page, err)
	}
	m := page.Messages[0]
	if m.DeadReason != queues.ReasonMaxAttempts || string(m.LastError) != `"boom"` || m.CorrelationID != "cid-poison" || m.FailureAttempts != 2 {
		t.Fatalf("dead letter %+v", m)
	}
	if s := e.stats(ref); s.DeadLetters != 1 || s.Ready != 0 {
		t.Fatalf("stats %+v", s)
	}
	res, err := e.svc.Requeue(ctx(t), queues.RequeueRequest{Ref: ref, IDs: []string{m.ID}})
	if err != nil || len(res.Requeued) != 1 {
		t.Fatalf("requeue %+v %v", res, err)
	}
	d := e.dequeue(ref, 1)[0]
	if d.FailureAttempts != 0 || d.Attempts != 3 || payload(t, d) != "poison" {
		t.Fatalf("requeued delivery %+v", d.Message)
	}
	// Fail it twice more, then drain the DLQ by dequeue and ack.
	e.svc.Nack(ctx(t), queues.NackRequest{Ref: ref, ID: d.ID, Proof: proof(d)})
	d = e.dequeue(ref, 1)[0]
	e.svc.Nack(ctx(t), queues.NackRequest{Ref: ref, ID: d.ID, Proof: proof(d)})
	dd := e.dequeue(dlq, 1)[0]
	if !dd.DLQ || dd.Name() != "jobs:dlq" || payload(t, dd) != "poison" {
		t.Fatalf("dlq delivery %+v", dd.Message)
	}
	if err := e.ack(dd); err != nil {
		t.Fatal(err)
	}
	if s := e.stats(dlq); s.Ready+s.InFlight+s.DeadLetters != 0 {
		t.Fatalf("dlq not drained: %+v", s)
	}
}

func TestSubscriptionPrefetch(t *testing.T) {
	e := newEnv(t)
	sub, err := e.svc.Subscribe(ctx(t), queues.SubscribeRequest{Ref: ref, Owner: "s", Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 0; i < 3; i++ {
		e.enqueue(fmt.Sprint("m", i))
	}
	var got []*queues.Delivery
	for len(got) < 2 {
		ds, err := sub.Next(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ds...)
	}
	if s := e.stats(ref); s.Ready != 1 || s.InFlight != 2 {
		t.Fatalf("prefetch not respected: %+v", s)
	}
	if err := e.ack(got[0]); err != nil {
		t.Fatal(err)
	}
	ds, err := sub.Next(ctx(t))
	if err != nil || len(ds) != 1 || payload(t, ds[0]) != "m2" {
		t.Fatalf("after ack: %v %v", ds, err)
	}
}

func TestWatchSeesAvailability(t *testing.T) {
	e := newEnv(t)
	w, err := e.svc.Watch(ctx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev, err := w.Next(ctx(t))
	if err != nil || ev.Available {
		t.Fatalf("initial event %+v %v", ev, err)
	}
	res := e.enqueue("m")
	ev, err = w.Next(ctx(t))
	if err != nil || !ev.Available || ev.HeadID != res.ID {
		t.Fatalf("after enqueue %+v %v", ev, err)
	}
	if s := e.stats(ref); s.Watchers != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPassivationKeepsInFlightState(t *testing.T) {
	e := newEnv(t, func(c *queues.Config) { c.Actors = actors.Config{IdleAfter: time.Nanosecond, Tick: time.Hour} })
	e.enqueue("m")
	d := e.dequeue(ref, 1)[0]
	e.clk.Advance(time.Second)
	waitFor(t, "passivation", func() bool { e.svc.PassivateIdle(); return e.svc.Live() == 0 })
	if err := e.ack(d); err != nil {
		t.Fatalf("ack after passivation: %v", err)
	}
}

// fakeState is a StateLeaser that records calls.
type fakeState struct {
	mu    sync.Mutex
	held  map[string]string // key -> lease id
	calls []string
	n     int
}

func (f *fakeState) AcquireState(_ context.Context, ns, key, owner, txn string, ttl, _ time.Duration) (queues.StateLease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held[key] != "" {
		return queues.StateLease{}, fmt.Errorf("held: %w", queues.ErrStateBusy)
	}
	f.n++
	id := fmt.Sprint("S", f.n)
	f.held[key] = id
	f.calls = append(f.calls, "acquire "+ns+"/"+key+" txn="+txn)
	return queues.StateLease{LeaseID: id, TxnID: txn, Fencing: uint64(f.n)}, nil
}

func (f *fakeState) KeepAliveState(_ context.Context, _, key string, p queues.StateProof, _ string, ttl time.Duration) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("keepalive %s %s %v", key, p.LeaseID, ttl))
	return time.Unix(1, 0), nil
}

func (f *fakeState) ReleaseState(_ context.Context, _, key string, p queues.StateProof, _ string, remove bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held[key] == p.LeaseID {
		delete(f.held, key)
	}
	f.calls = append(f.calls, fmt.Sprintf("release %s %s remove=%v", key, p.LeaseID, remove))
	return nil
}

func TestStatefulDequeueAlignsStateLease(t *testing.T) {
	fs := &fakeState{held: map[string]string{}}
	e := newEnv(t, func(c *queues.Config) { c.State = fs })
	res := e.enqueue("m")
	ds, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "w", Max: 5, Stateful: true})
	if err != nil || len(ds) != 1 || ds[0].State == nil {
		t.Fatalf("stateful dequeue %v %v", ds, err)
	}
	d := ds[0]
	key := queues.StateKey("jobs", res.ID)
	sp := &queues.StateProof{LeaseID: d.State.LeaseID, Fencing: d.State.Fencing}
	if _, err := e.svc.Extend(ctx(t), queues.ExtendRequest{Ref: ref, ID: d.ID, Proof: proof(d), By: 20 * time.Second, State: sp}); err != nil {
		t.Fatal(err)
	}
	p := proof(d)
	p.MetaETag = ""
	if _, err := e.svc.Ack(ctx(t), queues.AckRequest{Ref: ref, ID: d.ID, Proof: p, State: sp}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"acquire default/" + key + " txn=" + d.TxnID,
		"keepalive " + key + " S1 20s",
		"release " + key + " S1 remove=true",
	}
	if fmt.Sprint(fs.calls) != fmt.Sprint(want) {
		t.Fatalf("state calls\n got %q\nwant %q", fs.calls, want)
	}
	// A busy state lease releases the message again.
	e.enqueue("n")
	ds2 := e.dequeue(ref, 1)
	fs.held[queues.StateKey("jobs", ds2[0].ID)] = "other"
	if err := e.svc.Release(ctx(t), ds2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "w", Stateful: true}); !errors.Is(err, queues.ErrStateBusy) {
		t.Fatalf("busy state: %v", err)
	}
	if s := e.stats(ref); s.Ready != 1 {
		t.Fatalf("message not released after busy state: %+v", s)
	}
}

func TestEnqueueIntoDLQRefused(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Enqueue(ctx(t), queues.EnqueueRequest{Ref: queues.Ref{Namespace: "default", Queue: "jobs", DLQ: true}}, strings.NewReader("x"))
	if !errors.Is(err, queues.ErrReadOnly) {
		t.Fatalf("enqueue into dlq: %v", err)
	}
}

func TestSweepOrphanPayloads(t *testing.T) {
	var clk *clock.Fake
	e := newEnv(t, func(c *queues.Config) {
		clk = c.Clock.(*clock.Fake)
		c.NewMessageID = func() string { // a UUIDv7 minted at the fake time
			u := uuid.Must(uuid.NewV7())
			ms := clk.Now().UnixMilli()
			for i := 0; i < 6; i++ {
				u[i] = byte(ms >> (40 - 8*i))
			}
			return u.String()
		}
	})
	kept := e.enqueue(strings.Repeat("k", 100)) // a blob (InlineMax is 16)
	orphan, err := e.svc.Prepare(ctx(t), ref, strings.NewReader(strings.Repeat("o", 100)))
	if err != nil {
		t.Fatal(err)
	}
	_ = orphan // never enqueued: the process "crashed" here
	if n, err := e.svc.SweepOrphans(ctx(t), time.Hour); err != nil || n != 0 {
		t.Fatalf("young orphan swept: %d %v", n, err)
	}
	e.clk.Advance(2 * time.Hour)
	if n, err := e.svc.SweepOrphans(ctx(t), time.Hour); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	d := e.dequeue(ref, 1)[0]
	if d.ID != kept.ID || payload(t, d) != strings.Repeat("k", 100) {
		t.Fatal("referenced payload swept")
	}
}

// Deadlines that passed while the queue's actor was passivated take effect
// before the first request after it reloads.
func TestReloadAppliesMissedDeadlines(t *testing.T) {
	e := newEnv(t, func(c *queues.Config) { c.Actors = actors.Config{IdleAfter: time.Nanosecond, Tick: time.Hour} })
	e.enqueue("m", func(r *queues.EnqueueRequest) { r.MaxAttempts = 1 })
	e.dequeue(ref, 1)
	waitFor(t, "passivation", func() bool { e.clk.Advance(time.Millisecond); e.svc.PassivateIdle(); return e.svc.Live() == 0 })
	e.clk.Advance(time.Minute) // no actor, no timer: the visibility timeout passes unseen
	if s := e.stats(ref); s.DeadLetters != 1 || s.InFlight != 0 {
		t.Fatalf("after reload: %+v", s)
	}
}

// Past the inline memory budget payloads stay only in the store; every
// path that rewrites or delivers such a message still carries its payload.
func TestColdInlinePayloads(t *testing.T) {
	e := newEnv(t, func(c *queues.Config) { c.InlineMax, c.InlineMemory = 64, 10 })
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, e.enqueue(fmt.Sprintf("payload-%d", i), func(r *queues.EnqueueRequest) { r.MaxAttempts = 1 }).ID)
	}
	// Delivery, nack into the DLQ, DLQ delivery, requeue, redelivery.
	ds := e.dequeue(ref, 4)
	for i, d := range ds {
		if payload(t, d) != fmt.Sprintf("payload-%d", i) {
			t.Fatalf("delivery %d payload %q", i, payload(t, d))
		}
		if _, err := e.svc.Nack(ctx(t), queues.NackRequest{Ref: ref, ID: d.ID, Proof: proof(d)}); err != nil {
			t.Fatal(err)
		}
	}
	dlq := queues.Ref{Namespace: "default", Queue: "jobs", DLQ: true}
	dd := e.dequeue(dlq, 1)[0]
	if payload(t, dd) != "payload-0" {
		t.Fatalf("dlq payload %q", payload(t, dd))
	}
	e.crash() // reload: the budget is applied again on load
	if _, err := e.svc.Requeue(ctx(t), queues.RequeueRequest{Ref: ref, All: true}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range e.dequeue(ref, 10) {
		got[d.ID] = payload(t, d)
		if err := e.ack(d); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids[1:] { // ids[0] is in flight from the DLQ
		if got[id] != fmt.Sprintf("payload-%d", i+1) {
			t.Fatalf("after requeue %s: %q", id, got[id])
		}
	}
}

// A long-poll dequeue arms WhileBlocked only when it waits, and ending its
// context withdraws the waiter so the next message goes to someone else.
func TestDequeueWhileBlockedOnlyWhenWaiting(t *testing.T) {
	e := newEnv(t)
	var armed, released atomic.Int32
	gone, leave := context.WithCancel(context.Background())
	defer leave()
	while := func() (context.Context, func()) {
		armed.Add(1)
		return gone, func() { released.Add(1) }
	}
	e.enqueue("m1")
	ds, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "a", Wait: time.Minute, WhileBlocked: while})
	if err != nil || len(ds) != 1 {
		t.Fatalf("dequeue of a ready message: %d, %v", len(ds), err)
	}
	if armed.Load() != 0 {
		t.Fatal("WhileBlocked called although a message was ready")
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "b", Wait: time.Minute, WhileBlocked: while})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for armed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("WhileBlocked not called for a waiting dequeue")
		}
		time.Sleep(time.Millisecond)
	}
	leave() // the waiting consumer goes away
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("withdrawn waiter got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not released when its consumer left")
	}
	if released.Load() != 1 {
		t.Fatalf("WhileBlocked release called %d times", released.Load())
	}
	// The withdrawal is asynchronous: a message that reached the waiter
	// first is released on its behalf, so c may wait a moment.
	e.enqueue("m2")
	next, err := e.svc.Dequeue(ctx(t), queues.DequeueRequest{Ref: ref, Owner: "c", Wait: 5 * time.Second})
	if err != nil || len(next) != 1 || payload(t, next[0]) != "m2" {
		t.Fatalf("next dequeue after the withdrawn waiter: %d, %v", len(next), err)
	}
}
