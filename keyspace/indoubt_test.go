package keyspace_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
)

// expiries is a Coordinator that records the participants whose expiry
// it was told of.
type expiries struct {
	mu   sync.Mutex
	seen []keyspace.Ref
}

func (c *expiries) Multi(string) bool { return true }

func (c *expiries) Expired(_ string, r keyspace.Ref) {
	c.mu.Lock()
	c.seen = append(c.seen, r)
	c.mu.Unlock()
}

func (c *expiries) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// A participant that voted yes to another island's coordinator is in
// doubt: past its lease it is neither expired nor handed on, this
// island's own coordinator can neither prepare nor decide it, and only
// the coordinator it voted for (or an operator) settles it, also after a
// restart.
func TestInDoubtParticipantFollowsOnlyTheCoordinatorItVotedFor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		by     string
		commit bool
		want   string
	}{
		{"that coordinator commits", "hash-a", true, `{"v":1}`},
		{"that coordinator rolls back", "hash-a", false, `{"v":0}`},
		{"an operator commits", keyspace.OperatorTC, true, `{"v":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.acquire("seed")
			if _, err := e.update(first, `{"v":0}`); err != nil {
				t.Fatal(err)
			}
			e.release(first, false)
			coord := &expiries{}
			e.svc.SetCoordinator(coord)

			l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", TxnID: "ctxn0000000000000000", TTL: 5 * time.Second, Enlist: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.update(l, `{"v":1}`); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.PrepareTxn(ctx(t), ref, l.TxnID, "hash-a"); err != nil {
				t.Fatalf("prepare by hash-a: %v", err)
			}
			e.crash() // the vote is durable
			e.svc.SetCoordinator(coord)
			e.clk.Advance(time.Minute) // far past the lease

			if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "intruder", TTL: time.Second}); !errors.Is(err, keyspace.ErrWaiting) {
				t.Fatalf("acquire of a key in doubt: %v, want ErrWaiting", err)
			}
			if n := coord.count(); n != 0 {
				t.Fatalf("this island's coordinator was told of %d expiries of a key in doubt", n)
			}
			if err := e.svc.PrepareTxn(ctx(t), ref, l.TxnID, keyspace.OwnTC); !errors.Is(err, keyspace.ErrInDoubt) {
				t.Fatalf("own coordinator's prepare: %v, want ErrInDoubt", err)
			}
			if err := e.svc.PrepareTxn(ctx(t), ref, l.TxnID, "hash-a"); err != nil {
				t.Fatalf("hash-a's prepare again, lease lapsed: %v (the vote stands)", err)
			}
			for _, commit := range []bool{true, false} {
				if _, err := e.svc.ApplyTxn(ctx(t), ref, l.TxnID, commit, keyspace.OwnTC); !errors.Is(err, keyspace.ErrInDoubt) {
					t.Fatalf("own coordinator's decision (commit %v): %v, want ErrInDoubt", commit, err)
				}
				if _, err := e.svc.ApplyTxn(ctx(t), ref, l.TxnID, commit, "hash-c"); !errors.Is(err, keyspace.ErrInDoubt) {
					t.Fatalf("a third coordinator's decision (commit %v): %v, want ErrInDoubt", commit, err)
				}
			}
			if got := e.public(); got != `{"v":0}` {
				t.Fatalf("before the decision: %s", got)
			}
			applied, err := e.svc.ApplyTxn(ctx(t), ref, l.TxnID, tc.commit, tc.by)
			if err != nil || !applied {
				t.Fatalf("decision of %s: %v %v", tc.by, applied, err)
			}
			if got := e.public(); got != tc.want {
				t.Fatalf("after the decision: %s, want %s", got, tc.want)
			}
			if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "next", TTL: time.Second}); err != nil {
				t.Fatalf("the key is free after the decision: %v", err)
			}
		})
	}
}

// Without a vote to another island, a lapsed enlisted lease is this
// island's coordinator's to roll back, as before.
func TestLapsedEnlistedLeaseWithoutForeignVoteTellsTheCoordinator(t *testing.T) {
	e := newEnv(t)
	coord := &expiries{}
	e.svc.SetCoordinator(coord)
	l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", TxnID: "ctxn0000000000000001", TTL: 5 * time.Second, Enlist: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.PrepareTxn(ctx(t), ref, l.TxnID, keyspace.OwnTC); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "intruder", TTL: time.Second}); !errors.Is(err, keyspace.ErrWaiting) {
		t.Fatalf("acquire: %v, want ErrWaiting until the coordinator applies its rollback", err)
	}
	if coord.count() != 1 {
		t.Fatalf("expiries told: %d, want 1", coord.count())
	}
	if _, err := e.svc.ApplyTxn(ctx(t), ref, l.TxnID, false, keyspace.OwnTC); err != nil {
		t.Fatal(err)
	}
}
