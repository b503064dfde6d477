package mem_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return mem.New() })
}

func TestCrashDropsUnsyncedWrites(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	s.Put(ctx, "synced", []byte("1"), store.Cond{})
	_, d, err := s.Apply(ctx, []store.Op{{Key: "waited", Value: []byte("2")}})
	if err != nil {
		t.Fatal(err)
	}
	d.Wait()
	s.Apply(ctx, []store.Op{{Key: "unsynced", Value: []byte("3")}})
	if _, err := s.Get(ctx, "unsynced"); err != nil {
		t.Fatalf("applied write not visible before crash: %v", err)
	}
	r := s.Crash()
	for _, k := range []string{"synced", "waited"} {
		if _, err := r.Get(ctx, k); err != nil {
			t.Errorf("%s lost in crash: %v", k, err)
		}
	}
	if _, err := r.Get(ctx, "unsynced"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unsynced write survived crash: %v", err)
	}
	if _, err := s.Get(ctx, "synced"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("crashed store still serves: %v", err)
	}
}

func TestLaterSyncFlushesEarlierBatches(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	s.Apply(ctx, []store.Op{{Key: "a", Value: []byte("1")}})
	_, d, _ := s.Apply(ctx, []store.Op{{Key: "b", Value: []byte("2")}})
	d.Wait()
	r := s.Crash()
	if _, err := r.Get(ctx, "a"); err != nil {
		t.Fatalf("earlier batch not durable after later sync: %v", err)
	}
}

func TestHoldSyncs(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	s.HoldSyncs()
	_, d, _ := s.Apply(ctx, []store.Op{{Key: "a", Value: []byte("1")}})
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case <-done:
		t.Fatal("Wait returned while syncs are held")
	case <-time.After(50 * time.Millisecond):
	}
	s.ReleaseSyncs()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after ReleaseSyncs")
	}
}
