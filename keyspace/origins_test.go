package keyspace_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
)

// discardStore keeps nothing: every key looks new and every write
// succeeds, so the heap a test measures is the key service's own.
type discardStore struct{ n atomic.Int64 }

var _ store.Store = (*discardStore)(nil)

func (d *discardStore) Get(context.Context, string) (store.Record, error) {
	return store.Record{}, store.ErrNotFound
}

func (d *discardStore) Put(context.Context, string, []byte, store.Cond) (string, error) {
	return strconv.FormatInt(d.n.Add(1), 10), nil
}
func (d *discardStore) Delete(context.Context, string, store.Cond) error { return nil }
func (d *discardStore) List(context.Context, string, string, int) ([]string, error) {
	return nil, nil
}
func (d *discardStore) Close() error { return nil }
func (d *discardStore) WriteBlob(_ context.Context, _ string, r io.Reader) (int64, error) {
	return io.Copy(io.Discard, r)
}
func (d *discardStore) OpenBlob(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, store.ErrNotFound
}
func (d *discardStore) DeleteBlob(context.Context, string) error { return nil }
func (d *discardStore) ListBlobs(context.Context, string, string, int) ([]string, error) {
	return nil, nil
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitUntil polls cond with a bound (a test-side observation).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Memory follows the hot set: 100k keys acquired once (each minting a
// transaction whose origin the service remembers) and then left alone
// until their leases expire and their actors passivate leave neither
// origins nor their bucket memory behind. Time is the injected clock.
func TestOriginsFollowLiveLeases(t *testing.T) {
	const keys = 100_000
	clk := clock.NewFake(time.Now())
	svc := keyspace.New(actors.NewSystem(), &discardStore{}, keyspace.Config{Clock: clk,
		Actors: actors.Config{IdleAfter: time.Second, Tick: time.Hour}})
	t.Cleanup(svc.Close)
	base := heapNow()
	// One context: a context per call would pin a timer each.
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < keys; i += 8 {
				r := keyspace.Ref{Namespace: "default", Key: fmt.Sprintf("burst/%06d", i)}
				if _, err := svc.Acquire(c, keyspace.AcquireRequest{Ref: r, Owner: "o", TTL: 10 * time.Second}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := keyspace.OriginCount(svc); n != keys {
		t.Fatalf("origins while the leases live: %d, want %d", n, keys)
	}
	peak := heapNow()
	svc.PassivateIdle()           // the shards note each key's use
	clk.Advance(11 * time.Second) // past every lease and the idle time
	svc.PassivateIdle()
	waitUntil(t, "every key passivated", func() bool { return svc.Live() == 0 })
	svc.PassivateIdle() // shards rebuild their maps once emptied
	if n := keyspace.OriginCount(svc); n != 0 {
		t.Fatalf("origins of expired leases on sleeping keys: %d", n)
	}
	after := heapNow()
	// The figures are logged: what stays is the actor runtime's (the
	// process registry's and the shards' maps); the origin table's own
	// memory is measured in TestOriginTableMemory.
	t.Logf("heap: %d MB over the base at the peak, %d MB after expiry and passivation",
		(int64(peak)-int64(base))>>20, (int64(after)-int64(base))>>20)
}

// A keepalive moves the origin's end with the lease: a joiner still finds
// the origin after the lease's first TTL, and no longer after it ends.
func TestOriginFollowsKeepAlive(t *testing.T) {
	e := newEnv(t)
	l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "o", TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.KeepAlive(ctx(t), keyspace.KeepAliveRequest{Ref: ref, LeaseProof: proof(l), TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(30 * time.Second)
	e.svc.PassivateIdle() // prunes
	if got, ok := e.svc.Origin(l.TxnID); !ok || got != ref {
		t.Fatalf("origin of an extended lease: %v %v", got, ok)
	}
	e.clk.Advance(31 * time.Second)
	e.svc.PassivateIdle()
	if _, ok := e.svc.Origin(l.TxnID); ok || keyspace.OriginCount(e.svc) != 0 {
		t.Fatalf("origin of an expired lease still known (%d entries)", keyspace.OriginCount(e.svc))
	}
}
