package queues

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store/mem"
)

// The core tallies what a turn did; a nack that exhausts the attempts is
// a nack and a dead letter, a visibility timeout is neither.
func TestCoreTally(t *testing.T) {
	e := newCoreEnv(t)
	e.enqueue("a", func(r *record) { r.Size = 3 })
	e.enqueue("b", func(r *record) { r.Size = 4 })
	e.deliver(false) // a
	e.deliver(false) // b
	if _, err := e.c.ack(e.now, e.c.main, "a", e.last["a"]); err != nil {
		t.Fatal(err)
	}
	e.commit()
	e.advance(10 * time.Second) // b times out (failure 1 of 3)
	for i := 0; i < 2; i++ {    // failures 2 and 3: the last moves b to the DLQ
		e.deliver(false)
		if _, _, err := e.c.nack(e.now, e.c.main, "b", e.last["b"], IntentFailure, 0, nil); err != nil {
			t.Fatal(err)
		}
		e.commit()
	}
	got := e.c.takeTally()
	want := tally{enqueued: 2, enqueuedBytes: 7, delivered: 4, deliveredBytes: 3 + 4*3, acked: 1, nacked: 2, timedOut: 1, dead: [2]int64{1, 0}}
	if got != want {
		t.Fatalf("tally\n got %+v\nwant %+v", got, want)
	}
	if again := e.c.takeTally(); again != (tally{}) {
		t.Fatalf("takeTally did not clear: %+v", again)
	}
}

// A queue's counts stay in the gauges while its actor is passivated (its
// messages still wait), and leave them when the queue moves to another
// node.
func TestBacklogSurvivesPassivationNotMove(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	svc := New(actors.NewSystem(), mem.New(), Config{Clock: clk, Actors: actors.Config{IdleAfter: time.Minute, Tick: time.Hour}})
	t.Cleanup(svc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref := Ref{Namespace: "default", Queue: "backlog-test"}
	first := clk.Now()
	for _, body := range []string{"a", "b", "c"} {
		if _, err := svc.Enqueue(ctx, EnqueueRequest{Ref: ref}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if _, err := svc.Enqueue(ctx, EnqueueRequest{Ref: ref, Delay: time.Hour}, strings.NewReader("later")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Dequeue(ctx, DequeueRequest{Ref: ref, Owner: "w", Visibility: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// Dequeue answers after the turn's write; the turn publishes after
	// answering, so wait for the entry to show it.
	b := entryOf(svc, ref)
	want := [4]int64{2, 1, 1, 0} // ready, delayed, in flight, dead
	waitFor(t, func() bool { return countsOf(b) == want })
	if got := b.oldest.Load(); got != first.Add(time.Second).UnixNano() { // "a" is in flight: "b" is the oldest ready
		t.Fatalf("oldest ready = %d, want %d", got, first.Add(time.Second).UnixNano())
	}

	clk.Advance(2 * time.Minute)
	waitFor(t, func() bool {
		svc.PassivateIdle() // the first look only notes the actor's use
		return svc.Live() == 0
	})
	if entryOf(svc, ref) != b || countsOf(b) != want {
		t.Fatalf("after passivation the entry is %p with %v, want %p with %v", entryOf(svc, ref), countsOf(b), b, want)
	}

	// Wake the queue, then hand it to another node.
	if _, err := svc.Stats(ctx, ref); err != nil {
		t.Fatal(err)
	}
	svc.Handoff(func(Ref) bool { return true })
	waitFor(t, func() bool { return svc.Live() == 0 })
	if countsOf(b) != ([4]int64{}) || b.oldest.Load() != 0 {
		t.Fatalf("after the move: counts %v oldest %d, want none", countsOf(b), b.oldest.Load())
	}
	if e := entryOf(svc, ref); e != nil {
		t.Fatalf("entry of a moved, released queue still registered: %+v", e)
	}
}

func entryOf(s *Service, r Ref) *backlog {
	backlogs.Lock()
	defer backlogs.Unlock()
	return backlogs.m[backlogKey{s, actorID(r)}]
}

func countsOf(b *backlog) [4]int64 {
	if b == nil {
		return [4]int64{-1, -1, -1, -1}
	}
	return [4]int64{b.ready.Load(), b.delayed.Load(), b.inflight.Load(), b.dead.Load()}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
