package keyspace_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
)

// WhileBlocked is armed only when an acquire waits, and ending its context
// withdraws the waiter so the lease goes to the next one.
func TestWhileBlockedOnlyWhenWaiting(t *testing.T) {
	e := newEnv(t)
	var armed, released atomic.Int32
	gone, leave := context.WithCancel(context.Background())
	defer leave()
	while := func() (context.Context, func()) {
		armed.Add(1)
		return gone, func() { released.Add(1) }
	}
	l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a", Wait: time.Minute, WhileBlocked: while})
	if err != nil {
		t.Fatal(err)
	}
	if armed.Load() != 0 {
		t.Fatal("WhileBlocked called for a free key")
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", Wait: time.Minute, WhileBlocked: while})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for armed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("WhileBlocked not called for a waiting acquire")
		}
		time.Sleep(time.Millisecond)
	}
	leave() // the waiting client goes away
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("withdrawn waiter got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not released when its client left")
	}
	if released.Load() != 1 {
		t.Fatalf("WhileBlocked release called %d times", released.Load())
	}
	e.release(l, false)
	// The withdrawal is asynchronous: if the release got to the waiter
	// first, its lease is rolled back on its behalf, so c may wait a moment.
	c, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "c", Wait: 5 * time.Second})
	if err != nil || c.Owner != "c" {
		t.Fatalf("next acquire after the withdrawn waiter: %+v %v", c, err)
	}
}

// A caller may hand the whole document as Inline; one larger than
// InlineMax still goes to a blob.
func TestUpdateInline(t *testing.T) {
	e := newEnv(t, func(c *keyspace.Config) { c.InlineMax = 8 })
	for _, body := range []string{`{"a":1}`, `{"a":"larger than eight bytes"}`} {
		l := e.acquire("w")
		res, err := e.svc.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(l), Inline: []byte(body), ETag: etag(body)})
		if err != nil || res.Bytes != int64(len(body)) || res.NewETag != etag(body) {
			t.Fatalf("inline update %q: %+v %v", body, res, err)
		}
		e.release(l, false)
		if got := e.public(); got != body {
			t.Fatalf("public read %q, want %q", got, body)
		}
	}
}
