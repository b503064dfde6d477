package admission

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

func TestControllerPaceCountsWaiting(t *testing.T) {
	clk := clock.NewFake(t0)
	c := New(Config{Enabled: true, LockHardLimit: 1}, clk, zerolog.Nop())
	c.Begin(KindLock)
	d := c.Decide(Class{Kind: KindLock}, 0)
	if d.Delay != DefaultEngagedDelay || d.State != Engaged || d.Reason != "lock_inflight_hard" {
		t.Fatalf("first paced request: %+v", d)
	}
	done := make(chan error, 1)
	go func() { done <- c.Pace(context.Background(), KindLock, d.Delay) }()
	// While it waits, the next one queues behind it.
	deadline := time.Now().Add(10 * time.Second)
	for c.waiting[KindLock].Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("pacing request not counted as waiting")
		}
		time.Sleep(time.Millisecond)
	}
	if d2 := c.Decide(Class{Kind: KindLock}, 0); d2.Delay != 2*DefaultEngagedDelay {
		t.Fatalf("second request: %+v", d2)
	}
	clk.Advance(DefaultEngagedDelay)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pace did not return after its delay")
	}
	if c.waiting[KindLock].Load() != 0 {
		t.Fatal("waiting count leaked")
	}
	c.End(KindLock)
	if c.Inflight().Lock != 0 {
		t.Fatal("in-flight count leaked")
	}
}

func TestControllerPaceEndsWithContext(t *testing.T) {
	c := New(Config{Enabled: true}, clock.NewFake(t0), zerolog.Nop())
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("shutting down")
	cancel(stop)
	if err := c.Pace(ctx, KindLock, time.Hour); !errors.Is(err, stop) {
		t.Fatalf("Pace after cancel: %v", err)
	}
}

func TestControllerObserveAndStatus(t *testing.T) {
	c := New(Config{Enabled: true, MemoryHardLimitBytes: 100, RecoverySamples: 1}, nil, zerolog.Nop())
	c.Observe(Snapshot{RSSBytes: 150, At: t0})
	st := c.Status()
	if st.State != Engaged || st.Reason.Name != "memory_hard" || st.Snapshot.RSSBytes != 150 || !st.Since.Equal(t0) {
		t.Fatalf("status %+v", st)
	}
	if c.State() != Engaged {
		t.Fatal("State disagrees with Status")
	}
	disabled := New(Config{MemoryHardLimitBytes: 100}, nil, zerolog.Nop())
	disabled.Observe(Snapshot{RSSBytes: 150})
	if disabled.State() != Disengaged {
		t.Fatal("a disabled controller changed state")
	}
}
