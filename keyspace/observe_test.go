package keyspace_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/lockdhq/lockd/keyspace"
)

type recorder struct {
	mu  sync.Mutex
	evs []keyspace.Committed
}

func (r *recorder) Observe(c keyspace.Committed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, c)
}

func TestObserverScanAndMutate(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.svc.SetObserver(rec)
	l := e.acquire("a")
	e.update(l, `{"n":1}`)
	e.release(l, false)
	l = e.acquire("a")
	res, err := e.svc.Mutate(ctx(t), keyspace.MutateRequest{Ref: ref, LeaseProof: proof(l)}, func(doc any) (any, error) {
		m := doc.(map[string]any)
		m["m"] = true
		return m, nil
	})
	if err != nil || res.NewVersion != 2 {
		t.Fatalf("mutate: %+v %v", res, err)
	}
	_, err = e.svc.Mutate(ctx(t), keyspace.MutateRequest{Ref: ref, LeaseProof: proof(l)}, func(any) (any, error) {
		return nil, errors.New("no")
	})
	if err == nil {
		t.Fatal("failing mutation staged")
	}
	e.release(l, false)
	if got := e.public(); got != `{"m":true,"n":1}` {
		t.Fatalf("after mutate: %s", got)
	}
	l = e.acquire("a")
	e.svc.Remove(ctx(t), keyspace.RemoveRequest{Ref: ref, LeaseProof: proof(l)})
	e.release(l, true) // rollback: no event
	rec.mu.Lock()
	evs := rec.evs
	rec.mu.Unlock()
	if len(evs) != 2 || evs[0].Version != 1 || string(evs[0].Doc) != `{"n":1}` || evs[1].Version != 2 {
		t.Fatalf("events %+v", evs)
	}
	if err := evs[1].Durable.Wait(); err != nil {
		t.Fatal(err)
	}
	other := keyspace.Ref{Namespace: "default", Key: "b"}
	lb, _ := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: other, Owner: "x"})
	e.svc.Update(ctx(t), keyspace.UpdateRequest{Ref: other, LeaseProof: proof(lb), Body: stringsReader(`[1]`), Size: 3, ETag: etag(`[1]`)})
	// b is staged only: Scan sees committed documents of the namespace.
	var seen []string
	err = e.svc.Scan(ctx(t), "default", "", func(d keyspace.Document) error {
		seen = append(seen, d.Key)
		return nil
	})
	if err != nil || len(seen) != 1 || seen[0] != "orders/1" {
		t.Fatalf("scan %v %v", seen, err)
	}
	nss, err := e.svc.Namespaces(ctx(t))
	if err != nil || len(nss) != 1 || nss[0] != "default" {
		t.Fatalf("namespaces %v %v", nss, err)
	}
}
