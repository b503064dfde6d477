package s3_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/s3"
	"github.com/lockdhq/lockd/store/storetest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestContract(t *testing.T) {
	t.Parallel()
	testservers.StartS3(t) // one server for all subtests
	storetest.Run(t, func(t *testing.T) store.Store { return testservers.NewS3Store(t) })
}

// TestFailedConditionNotRetried checks that every failed precondition
// costs exactly one round trip.
func TestFailedConditionNotRetried(t *testing.T) {
	t.Parallel()
	ctx, s := testCtx(t), testservers.NewS3Store(t)
	tag, err := s.Put(ctx, "k", []byte("1"), store.Cond{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", []byte("2"), store.Cond{IfMatch: tag}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		trip func(s3.Stats) uint64
	}{
		{"stale put", func() error { _, err := s.Put(ctx, "k", []byte("x"), store.Cond{IfMatch: tag}); return err },
			func(st s3.Stats) uint64 { return st.Put.RoundTrips }},
		{"create existing", func() error { _, err := s.Put(ctx, "k", []byte("x"), store.Cond{IfNotExists: true}); return err },
			func(st s3.Stats) uint64 { return st.Put.RoundTrips }},
		{"put missing", func() error { _, err := s.Put(ctx, "nope", []byte("x"), store.Cond{IfMatch: tag}); return err },
			func(st s3.Stats) uint64 { return st.Put.RoundTrips }},
		{"stale delete", func() error { return s.Delete(ctx, "k", store.Cond{IfMatch: tag}) },
			func(st s3.Stats) uint64 { return st.Delete.RoundTrips }},
		// AWS answers 404 here (ErrConflict and ErrNotFound); versitygw
		// v1.8.0 ignores If-Match on a missing key and answers 204.
		{"delete missing", func() error {
			if err := s.Delete(ctx, "nope", store.Cond{IfMatch: tag}); err != nil {
				return err
			}
			return store.ErrConflict
		}, func(st s3.Stats) uint64 { return st.Delete.RoundTrips }},
	}
	for _, step := range steps {
		before := step.trip(s.Stats())
		if err := step.do(); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: %v, want ErrConflict", step.name, err)
		}
		if n := step.trip(s.Stats()) - before; n != 1 {
			t.Errorf("%s: %d round trips, want 1", step.name, n)
		}
	}
}

// TestTwoNodesRace runs the CAS race between two Store instances on one
// bucket, as two lockd nodes would: each round exactly one writer wins and
// both nodes then read the winner's record.
func TestTwoNodesRace(t *testing.T) {
	t.Parallel()
	ctx, cfg := testCtx(t), testservers.S3Config(t)
	nodes := []*s3.Store{testservers.OpenS3(t, cfg), testservers.OpenS3(t, cfg)}
	tag, err := nodes[0].Put(ctx, "lease", []byte("none"), store.Cond{IfNotExists: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Put(ctx, "lease", []byte("n1"), store.Cond{IfNotExists: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create from node 1: %v", err)
	}
	const perNode, rounds = 4, 8
	for round := 0; round < rounds; round++ {
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		for n, node := range nodes {
			for w := 0; w < perNode; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					owner := fmt.Sprintf("node%d/w%d/r%d", n, w, round)
					nt, err := node.Put(ctx, "lease", []byte(owner), store.Cond{IfMatch: tag})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						winners = append(winners, owner+"="+nt)
					case !errors.Is(err, store.ErrConflict):
						t.Errorf("%s: %v", owner, err)
					}
				}()
			}
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
		for n, node := range nodes {
			rec, err := node.Get(ctx, "lease")
			if err != nil || string(rec.Value)+"="+rec.ETag != winners[0] {
				t.Fatalf("round %d: node %d reads %q/%s %v, want %s", round, n, rec.Value, rec.ETag, err, winners[0])
			}
			tag = rec.ETag
		}
	}
}

// TestListOrderAllBytes checks that List returns keys made of every
// non-NUL byte in byte order, and pages through them with after/limit.
func TestListOrderAllBytes(t *testing.T) {
	t.Parallel()
	ctx, s := testCtx(t), testservers.NewS3Store(t)
	var keys []string
	for b := 1; b < 256; b += 3 {
		keys = append(keys, "p/"+string([]byte{byte(b)}), fmt.Sprintf("p/%c/x", byte(b)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(ctx, k, []byte(k), store.Cond{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(keys)
	var got []string
	for after := ""; ; {
		page, err := s.List(ctx, "p/", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Fatalf("List order:\n got %q\nwant %q", got, keys)
	}
}

// TestRoundTripsPerOperation records the cost of each operation and
// checks the common ones take one round trip.
func TestRoundTripsPerOperation(t *testing.T) {
	t.Parallel()
	ctx, s := testCtx(t), testservers.NewS3Store(t)
	tag, _ := s.Put(ctx, "k", []byte("v"), store.Cond{IfNotExists: true})
	s.Put(ctx, "k", []byte("w"), store.Cond{IfMatch: tag})
	s.Get(ctx, "k")
	s.List(ctx, "", "", 0)
	s.Delete(ctx, "k", store.Cond{})
	s.WriteBlob(ctx, "b", strings.NewReader("small"))
	r, _, err := s.OpenBlob(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	s.DeleteBlob(ctx, "b")
	st := s.Stats()
	for name, o := range map[string]s3.OpStats{"Get": st.Get, "Put": st.Put, "Delete": st.Delete, "List": st.List,
		"WriteBlob(small)": st.WriteBlob, "OpenBlob": st.OpenBlob, "DeleteBlob": st.DeleteBlob} {
		t.Logf("%-16s calls=%d round trips=%d", name, o.Calls, o.RoundTrips)
		if o.Calls == 0 || o.RoundTrips != o.Calls {
			t.Errorf("%s: %d round trips for %d calls", name, o.RoundTrips, o.Calls)
		}
	}
}

func TestEmptyKeyAndClosed(t *testing.T) {
	t.Parallel()
	ctx, s := testCtx(t), testservers.NewS3Store(t)
	if _, err := s.Put(ctx, "", []byte("v"), store.Cond{}); !errors.Is(err, s3.ErrEmptyKey) {
		t.Fatalf("Put empty key: %v", err)
	}
	if _, err := s.WriteBlob(ctx, "", strings.NewReader("v")); !errors.Is(err, s3.ErrEmptyKey) {
		t.Fatalf("WriteBlob empty name: %v", err)
	}
	s.Close()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, err := s.ListBlobs(ctx, "", "", 0); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("ListBlobs after Close: %v", err)
	}
}
