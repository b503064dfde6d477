package txn_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

// failingPuts is a store whose writes of the record of key fail while
// failing is set (a store that stops answering, a record another node
// changed).
type failingPuts struct {
	store.Store
	key     string
	failing atomic.Bool
}

func (s *failingPuts) Put(ctx context.Context, key string, v []byte, c store.Cond) (string, error) {
	if s.failing.Load() && strings.HasSuffix(key, "/k/"+s.key) {
		return "", errors.New("store unavailable")
	}
	return s.Store.Put(ctx, key, v, c)
}

// originNodes starts a TC leader "l" (owning key b) and a follower "f"
// (owning key a, where transactions are minted) on st; the leader asks f
// for a transaction's first key with origin, as the edge does.
func originNodes(t *testing.T, st store.Store, origin originAsker) (leader, follower *txn.Service, lkeys *keyspace.Service) {
	n := startNodes(t, st, clock.NewFake(time.Now()), new(atomic.Bool), origin)
	return n.leader, n.follower, n.lkeys
}

// enlistAtF asks node f to enlist the key that minted a transaction, as
// the edge's /v1/cluster/txn/origin does.
func enlistAtF(nodes map[string]*txn.Service) func(context.Context, string) (*txn.Participant, error) {
	return func(ctx context.Context, id string) (*txn.Participant, error) {
		p, ok, err := nodes["f"].EnlistOrigin(ctx, id)
		if err != nil || !ok {
			return nil, err
		}
		return &p, nil
	}
}

// Soak finding (docs/SOAK.md, t/03/0): key a minted a transaction on node
// f; key b joined it on the leader while f could not enlist a (its write
// failed). The join went on without a, the commit listed b only, and a's
// staged write was rolled back when its lease lapsed: a torn transaction.
// A join whose transaction's first key cannot be enlisted must fail.
func TestJoinFailsWhenTheFirstKeyCannotBeEnlisted(t *testing.T) {
	st := &failingPuts{Store: mem.New(), key: "a"}
	leader, follower, lkeys := originNodes(t, st, enlistAtF)
	la, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "w", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	st.failing.Store(true)
	_, err = leader.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("b"), Owner: "w", TTL: time.Minute, TxnID: la.TxnID})
	if !errors.Is(err, txn.ErrUnavailable) {
		t.Fatalf("b joined a transaction whose first key could not be enlisted: %v", err)
	}
	st.failing.Store(false)
	// b's lease was given back: another holder gets b at once.
	if _, err := lkeys.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("b"), Owner: "other", TTL: time.Minute}); err != nil {
		t.Fatalf("b is still held after the refused join: %v", err)
	}
}

// A join that cannot ask every node for the transaction's first key (one
// does not answer) is refused too: that node may hold the key.
func TestJoinFailsWhenANodeCannotBeAsked(t *testing.T) {
	unreachable := func(map[string]*txn.Service) func(context.Context, string) (*txn.Participant, error) {
		return func(context.Context, string) (*txn.Participant, error) {
			return nil, errors.New("connection refused")
		}
	}
	leader, follower, _ := originNodes(t, mem.New(), unreachable)
	la, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "w", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("b"), Owner: "w", TTL: time.Minute, TxnID: la.TxnID}); !errors.Is(err, txn.ErrUnavailable) {
		t.Fatalf("b joined while a node that may hold the first key did not answer: %v", err)
	}
}

// When the first key's node answers, the join enlists it there and the
// leader only lists it: it does not enlist a second time through a key
// actor of its own (soak: that second actor's write raced the owner's,
// failed, and the origin was left out of the commit), and the commit
// reaches both keys.
func TestJoinEnlistsTheFirstKeyOfAnotherNode(t *testing.T) {
	leader, follower, lkeys := originNodes(t, mem.New(), enlistAtF)
	la, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "w", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := leader.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("b"), Owner: "w", TTL: time.Minute, TxnID: la.TxnID})
	if err != nil {
		t.Fatal(err)
	}
	if !follower.Multi(la.TxnID) {
		t.Fatal("a was not enlisted in the transaction b joined")
	}
	if n := lkeys.Live(); n != 1 {
		t.Fatalf("the leader runs %d key actors; only b is its own", n)
	}
	if _, err := leader.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref("b"), LeaseProof: keyspace.LeaseProof{LeaseID: lb.LeaseID, Fencing: lb.Fencing, TxnID: lb.TxnID}}); err != nil {
		t.Fatal(err)
	}
}

// A key joining on a node that is not the TC leader, in a transaction its
// own node minted, enlists that first key in the key's record: a node
// that takes the first key over (after a restart or an ownership change)
// loads it enlisted, and its release waits for the transaction instead of
// committing alone.
func TestFollowerJoinEnlistsItsOwnFirstKeyDurably(t *testing.T) {
	st := mem.New()
	_, follower, _ := originNodes(t, st, enlistAtF)
	la, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "w", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("c"), Owner: "w", TTL: time.Minute, TxnID: la.TxnID}); err != nil {
		t.Fatal(err)
	}
	other := keyspace.New(actors.NewSystem(), st, keyspace.Config{Clock: clock.NewFake(time.Now()), Actors: actors.Config{IdleAfter: -1}})
	t.Cleanup(other.Close)
	_, err = other.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref("a"), LeaseProof: keyspace.LeaseProof{LeaseID: la.LeaseID, Fencing: la.Fencing, TxnID: la.TxnID}})
	if !errors.Is(err, keyspace.ErrEnlisted) {
		t.Fatalf("the node that took a over let it decide alone: %v", err)
	}
}
