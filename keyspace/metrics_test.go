package keyspace_test

import (
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
)

// The lease counters and the waiters gauge follow a lease that expires
// under a waiter, a keepalive, a release, and a waiter that gives up.
func TestLeaseMetrics(t *testing.T) {
	e := newEnv(t)
	before := keyspace.LeaseCounts()
	delta := func() [6]int64 {
		now := keyspace.LeaseCounts()
		for i := range now {
			now[i] -= before[i]
		}
		return now
	}
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a", TTL: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got := make(chan keyspace.Lease, 1)
	go func() {
		l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", TTL: time.Minute, Wait: time.Minute})
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitUntil(t, "the waiter queued", func() bool { return delta()[5] == 1 })
	e.clk.Advance(11 * time.Second) // a's lease expires; b gets the key
	l := <-got
	// acquired, released, expired, hand-offs, keepalives, waiters
	if d := delta(); d != [6]int64{2, 0, 1, 1, 0, 0} {
		t.Fatalf("after the expiry: %v", d)
	}
	if _, err := e.svc.KeepAlive(ctx(t), keyspace.KeepAliveRequest{Ref: ref, LeaseProof: proof(l), TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A waiter that times out leaves the gauge.
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "c", Wait: 5 * time.Second})
		errc <- err
	}()
	waitUntil(t, "the waiter queued", func() bool { return delta()[5] == 1 })
	e.clk.Advance(6 * time.Second)
	if err := <-errc; err == nil {
		t.Fatal("the waiter got a held lease")
	}
	e.release(l, false)
	if d := delta(); d != [6]int64{2, 1, 1, 1, 1, 0} {
		t.Fatalf("at the end: %v", d)
	}
}
