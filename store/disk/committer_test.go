package disk

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
)

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func within[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
	panic("unreachable")
}

// While a round waits to be applied, its writes are not in pebble yet:
// conditional writes check against their pending ETags, Get waits for the
// round, List and Scan see everything Apply returned.
func TestCommitterPendingWritesAreVisible(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir())
	defer s.Close()
	hold := make(chan struct{})
	var once sync.Once
	s.gc.testHold = func() { <-hold }
	release := func() { once.Do(func() { close(hold) }) }
	defer release()

	tags, d1, err := s.Apply(ctx, []store.Op{{Key: "k", Value: []byte("v1"), Cond: store.Cond{IfNotExists: true}}})
	if err != nil {
		t.Fatal(err)
	}
	// Forget the cached ETags: the check must find the pending one.
	for i := range s.etags {
		s.etags[i] = nil
	}
	tags2, d2, err := s.Apply(ctx, []store.Op{
		{Key: "k", Value: []byte("v2"), Cond: store.Cond{IfMatch: tags[0]}},
		{Key: "k2", Value: []byte("w"), Cond: store.Cond{IfNotExists: true}},
	})
	if err != nil {
		t.Fatalf("conditional write on a pending record: %v", err)
	}
	if _, _, err := s.Apply(ctx, []store.Op{{Key: "k", Value: []byte("stale"), Cond: store.Cond{IfMatch: tags[0]}}}); err == nil {
		t.Fatal("a write conditional on a superseded pending ETag succeeded")
	}
	got := make(chan store.Record, 1)
	go func() {
		rec, err := s.Get(ctx, "k")
		if err != nil {
			t.Error(err)
		}
		got <- rec
	}()
	listed := make(chan []string, 1)
	go func() {
		keys, err := s.List(ctx, "", "", 0)
		if err != nil {
			t.Error(err)
		}
		listed <- keys
	}()
	release()
	if rec := within(t, got); string(rec.Value) != "v2" || rec.ETag != tags2[0] {
		t.Fatalf("Get after pending writes: %q %s, want v2 %s", rec.Value, rec.ETag, tags2[0])
	}
	if keys := within(t, listed); fmt.Sprint(keys) != "[k k2]" {
		t.Fatalf("List after pending writes: %v", keys)
	}
	if err := d1.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := d2.Wait(); err != nil {
		t.Fatal(err)
	}
}

// OnDurable runs once the round is synced; on a synced round it reports
// false and does not run.
func TestCommitterOnDurable(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir())
	defer s.Close()
	hold := make(chan struct{})
	s.gc.testHold = func() { <-hold }
	_, d, err := s.Apply(ctx, []store.Op{{Key: "k", Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	r := d.(*round)
	called := make(chan error, 2)
	if !r.OnDurable(func(err error) { called <- err }) {
		t.Fatal("OnDurable on a pending round reported false")
	}
	close(hold)
	if err := within(t, called); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	if r.OnDurable(func(err error) { called <- err }) {
		t.Fatal("OnDurable on a synced round reported true")
	}
	if len(called) != 0 {
		t.Fatal("callback ran twice")
	}
}

// Many writers share rounds; every write they were told is durable is
// there after a reopen, each key at its last value, and the rounds are
// far fewer than the writes.
func TestCommitterManyWritersSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	const writers, each = 32, 50
	commits0 := s.Commits()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := fmt.Sprintf("w%02d", w)
			cond := store.Cond{IfNotExists: true}
			for i := 0; i < each; i++ {
				tags, d, err := s.Apply(ctx, []store.Op{{Key: key, Value: []byte(fmt.Sprint(i)), Cond: cond}})
				if err == nil {
					err = d.Wait()
				}
				if err != nil {
					t.Error(err)
					return
				}
				cond = store.Cond{IfMatch: tags[0]}
			}
		}(w)
	}
	wg.Wait()
	commits := s.Commits() - commits0
	if commits >= writers*each {
		t.Errorf("%d commits for %d writes: no group commit", commits, writers*each)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	for w := 0; w < writers; w++ {
		rec, err := s.Get(ctx, fmt.Sprintf("w%02d", w))
		if err != nil || string(rec.Value) != fmt.Sprint(each-1) {
			t.Fatalf("writer %d after reopen: %q %v", w, rec.Value, err)
		}
	}
}

// Close commits what Apply was given before it returns.
func TestCommitterCloseCommitsPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	for i := 0; i < 100; i++ {
		if _, _, err := s.Apply(ctx, []store.Op{{Key: fmt.Sprintf("k%03d", i), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	keys, err := s.List(ctx, "", "", 0)
	if err != nil || len(keys) != 100 {
		t.Fatalf("after close and reopen: %d keys, %v", len(keys), err)
	}
}
