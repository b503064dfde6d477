package keyspace_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/keyspace"
)

// A key whose ownership moved leaves memory: its blocked acquirer gets the
// retryable ErrMoved, and the key reloads from the store with its lease
// and fencing counter, so the holder can still release it.
func TestHandoffAnswersWaitersAndReloads(t *testing.T) {
	e := newEnv(t)
	l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", Wait: time.Minute})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := e.svc.Waiters(ctx(t), ref); n == 0; n, _ = e.svc.Waiters(ctx(t), ref) {
		if time.Now().After(deadline) {
			t.Fatal("waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	other := keyspace.Ref{Namespace: ref.Namespace, Key: "stays"}
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: other, Owner: "x"}); err != nil {
		t.Fatal(err)
	}
	e.svc.Handoff(func(r keyspace.Ref) bool { return r == ref })
	select {
	case err := <-errc:
		var ke *domainerr.Error
		if !errors.Is(err, keyspace.ErrMoved) || !errors.As(err, &ke) || ke.RetryAfter <= 0 {
			t.Fatalf("blocked acquirer got %v, want ErrMoved with a retry hint", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked acquirer not answered at the handoff")
	}
	for e.svc.Live() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d actors live after the handoff, want only the one that stays", e.svc.Live())
		}
		time.Sleep(time.Millisecond)
	}
	// Back on this node (ownership returned): the record is the truth.
	_, err = e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "c"})
	if !errors.Is(err, keyspace.ErrWaiting) {
		t.Fatalf("acquire of a held key after reload: %v", err)
	}
	e.release(l, false)
	n, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "c"})
	if err != nil || n.Fencing != l.Fencing+1 {
		t.Fatalf("after release: %+v %v (fencing must continue from %d)", n, err, l.Fencing)
	}
}
