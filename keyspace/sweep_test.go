package keyspace_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/xid"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// sweepingStore runs a sweep right after each blob write, the worst moment:
// the blob exists but its key does not reference it yet.
type sweepingStore struct {
	*mem.Store
	sweep func()
}

func (s *sweepingStore) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	n, err := s.Store.WriteBlob(ctx, name, r)
	if err == nil && s.sweep != nil {
		s.sweep()
	}
	return n, err
}

var _ store.Store = (*sweepingStore)(nil)

func TestSweeperSparesUploadsInFlight(t *testing.T) {
	st := &sweepingStore{Store: mem.New()}
	svc := keyspace.New(actors.NewSystem(), st, keyspace.Config{InlineMax: 4, Clock: clock.NewFake(time.Now().Add(time.Hour)), Actors: actors.Config{IdleAfter: -1}})
	t.Cleanup(svc.Close)
	swept := 0
	st.sweep = func() {
		n, err := svc.SweepOrphans(context.Background(), 0)
		if err != nil {
			t.Error(err)
		}
		swept += n
	}
	l, err := svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"big":"state"}`
	if _, err := svc.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(l), Body: strings.NewReader(body), Size: int64(len(body)), ETag: etag(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Attach(ctx(t), keyspace.AttachRequest{Ref: ref, LeaseProof: proof(l), Name: "f", Body: strings.NewReader("data"), ExpectedBytes: -1}); err != nil {
		t.Fatal(err)
	}
	if swept != 0 {
		t.Fatalf("the sweeper took %d uploads in flight", swept)
	}
	if _, err := svc.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref, LeaseProof: proof(l)}); err != nil {
		t.Fatal(err)
	}
	_, r, err := svc.OpenAttachment(ctx(t), ref, true, keyspace.LeaseProof{}, "f", "")
	if err != nil {
		t.Fatalf("attachment lost: %v", err)
	}
	r.Close()
}

// A sweep run is bounded (SweepPages pages of the blob listing), the next
// run continues where it stopped (also in a service started anew on the
// same store), and keys whose durable record references their blobs are
// not woken: only keys that may own an orphan are asked.
func TestSweepIsBoundedResumableAndSparesSleepingKeys(t *testing.T) {
	st := mem.New()
	clk := clock.NewFake(time.Now())
	start := func() *keyspace.Service {
		svc := keyspace.New(actors.NewSystem(), st, keyspace.Config{InlineMax: 4, Clock: clk,
			SweepPageSize: 4, SweepPages: 2, Actors: actors.Config{IdleAfter: time.Second, Tick: time.Hour}})
		t.Cleanup(svc.Close)
		return svc
	}
	svc := start()
	for i := range 20 { // 20 keys with a committed blob state
		r := keyspace.Ref{Namespace: "default", Key: fmt.Sprintf("k%02d", i)}
		l, err := svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: r, Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		body := `{"big":"state"}`
		if _, err := svc.Update(ctx(t), keyspace.UpdateRequest{Ref: r, LeaseProof: proof(l), Body: strings.NewReader(body), Size: int64(len(body)), ETag: etag(body)}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Release(ctx(t), keyspace.ReleaseRequest{Ref: r, LeaseProof: proof(l)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 { // uploads that crashed before reaching their (new) keys
		if _, err := st.WriteBlob(ctx(t), fmt.Sprintf("default/s/o%02d:%s", i, xid.New()), strings.NewReader("lost")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Hour)
	svc.PassivateIdle() // notes the keys' use
	clk.Advance(2 * time.Second)
	svc.PassivateIdle()
	waitUntil(t, "keys passivated", func() bool { return svc.Live() == 0 })
	// 30 blobs, 8 per run: the 20 referenced ones first, then the orphans.
	orphans := 0 // swept by this service: each woke its key, nothing else may
	for run, want := range []int{0, 0, 4, 6, 0} {
		if run == 2 {
			svc.Close()
			svc, orphans = start(), 0 // a restart keeps the position
		}
		n, err := svc.SweepOrphans(ctx(t), time.Hour)
		if err != nil || n != want {
			t.Fatalf("run %d swept %d (want %d): %v", run+1, n, want, err)
		}
		orphans += n
		if woken := svc.Live(); woken > int64(orphans) {
			t.Fatalf("after run %d %d keys are awake for %d orphans", run+1, woken, orphans)
		}
	}
	names, _ := st.ListBlobs(ctx(t), "", "", 0)
	if len(names) != 20 {
		t.Fatalf("left %d blobs, want the 20 referenced: %v", len(names), names)
	}
	for i := range 20 {
		v, err := svc.Get(ctx(t), keyspace.GetRequest{Ref: keyspace.Ref{Namespace: "default", Key: fmt.Sprintf("k%02d", i)}, Public: true})
		if err != nil || v.NoState {
			t.Fatalf("k%02d lost its state: %+v %v", i, v, err)
		}
	}
}
