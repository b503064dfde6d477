package txn_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

// flakyRM fails (or panics in) its first applies, then applies.
type flakyRM struct {
	failures, panics atomic.Int32
	applied          chan struct{}
}

func (r *flakyRM) PrepareMessage(context.Context, string, txn.Participant) error { return nil }

func (r *flakyRM) ApplyMessage(context.Context, string, txn.Participant, bool) error {
	if r.panics.Add(-1) >= 0 {
		panic("rm exploded")
	}
	if r.failures.Add(-1) >= 0 {
		return errors.New("rm unreachable")
	}
	r.applied <- struct{}{}
	return nil
}

// decidedWithMessage stores a decided, unapplied commit of one message and
// starts a coordinator over it with rm.
func decidedWithMessage(t *testing.T, rm txn.MessageRM) (*txn.Service, *mem.Store, *clock.Fake) {
	st, clk := mem.New(), clock.NewFake(time.Now())
	rec, _ := json.Marshal(map[string]any{"id": "t1", "state": txn.Commit, "created": clk.Now().Unix(), "decided": clk.Now().Unix(),
		"participants": []txn.Participant{{Kind: txn.KindMessage, Namespace: "default", Queue: "q", MessageID: "m1", LeaseID: "l", Fencing: 3}}})
	if _, err := st.Put(ctx(t), ".txns/t/t1", rec, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	sys := actors.NewSystem()
	keys := keyspace.New(sys, st, keyspace.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}})
	t.Cleanup(keys.Close)
	txns := txn.New(sys, st, keys, txn.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}, Messages: rm})
	t.Cleanup(txns.Close)
	return txns, st, clk
}

// A failed fan-out is answered (not swallowed) and the coordinator
// retries it by itself until the participant has the decision.
func TestFailedFanoutIsAnsweredAndRetried(t *testing.T) {
	rm := &flakyRM{applied: make(chan struct{}, 4)}
	rm.failures.Store(2)
	txns, st, clk := decidedWithMessage(t, rm)
	_, err := txns.Replay(ctx(t), "t1")
	var fe *txn.FanoutError
	if !errors.As(err, &fe) || !errors.Is(err, txn.ErrFanout) || fe.State != txn.Commit || len(fe.Failed) != 1 {
		t.Fatalf("replay with an unreachable participant: %v", err)
	}
	// The retry scheduled by the failure fails once more, then applies.
	deadline := time.Now().Add(10 * time.Second)
	for {
		clk.Advance(time.Minute)
		select {
		case <-rm.applied:
			waitApplied(t, st, "t1")
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator never retried the fan-out (failures left %d)", rm.failures.Load())
		}
	}
}

// A resource manager that panics fails its participant's apply (an
// unfinished fan-out, answered), not the process; the transaction still
// finishes afterwards.
func TestPanickingRMFailsFanoutNotProcess(t *testing.T) {
	rm := &flakyRM{applied: make(chan struct{}, 4)}
	rm.panics.Store(1)
	txns, st, _ := decidedWithMessage(t, rm)
	if _, err := txns.Replay(ctx(t), "t1"); !errors.Is(err, txn.ErrFanout) || !errors.Is(err, txn.ErrUnavailable) {
		t.Fatalf("replay that panicked: %v", err)
	}
	if s, err := txns.Replay(ctx(t), "t1"); err != nil || s != txn.Commit {
		t.Fatalf("replay after the restart: %s %v", s, err)
	}
	waitApplied(t, st, "t1")
}

// gatedRM counts its applies; each blocks until the gate opens.
type gatedRM struct {
	applies atomic.Int32
	entered chan struct{}
	gate    chan struct{}
}

func (r *gatedRM) PrepareMessage(context.Context, string, txn.Participant) error { return nil }

func (r *gatedRM) ApplyMessage(ctx context.Context, _ string, _ txn.Participant, _ bool) error {
	if r.applies.Add(1) == 1 {
		close(r.entered)
	}
	select {
	case <-r.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Soak finding (docs/SOAK.md, x/03/b0): the replay loop, the sweeper and
// recovery ask a transaction to replay every few seconds, and a caller
// that gives up leaves its request queued. While one fan-out is slow, the
// replays that pile up behind it are coalesced into one, not run one
// after the other (each up to FanoutTimeout).
func TestQueuedReplaysAreCoalesced(t *testing.T) {
	rm := &gatedRM{entered: make(chan struct{}), gate: make(chan struct{})}
	txns, st, _ := decidedWithMessage(t, rm)
	first := make(chan error, 1)
	go func() { _, err := txns.Replay(ctx(t), "t1"); first <- err }()
	select {
	case <-rm.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first replay never reached the participant")
	}
	for range 10 { // callers that give up, as a bounded sweep does
		c, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		if _, err := txns.Replay(c, "t1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("replay behind a blocked fan-out: %v", err)
		}
		cancel()
	}
	close(rm.gate)
	if err := <-first; err != nil {
		t.Fatalf("first replay: %v", err)
	}
	waitApplied(t, st, "t1")
	// This replay runs after (or rides on) every queued one.
	if s, err := txns.Replay(ctx(t), "t1"); err != nil || s != txn.Commit {
		t.Fatalf("last replay: %s %v", s, err)
	}
	if n := rm.applies.Load(); n > 3 {
		t.Fatalf("%d applies for 12 replays: the queued ones were not coalesced", n)
	}
}
