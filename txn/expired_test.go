package txn_test

import (
	"context"
	"encoding/json"
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

// fixedLead is a leadership that never changes: the leader is node "l",
// in term 1.
type fixedLead struct{ leads bool }

func (l fixedLead) Leading() (uint64, bool) {
	if l.leads {
		return 1, true
	}
	return 0, false
}
func (fixedLead) LeaderEndpoint() string                      { return "l" }
func (fixedLead) CurrentTerm(context.Context) (uint64, error) { return 1, nil }

// loopRemote joins the coordinators of one test in memory: nodes by
// endpoint, and the endpoint that owns each key.
type loopRemote struct {
	down  *atomic.Bool  // the leader cannot be reached
	told  *atomic.Int32 // decisions sent while down
	self  string
	nodes map[string]*txn.Service
	owner map[string]string
	// origin answers Origin (nil: no node has the first key).
	origin func(context.Context, string) (*txn.Participant, error)
}

func (r *loopRemote) Route(_ context.Context, p txn.Participant) (string, error) {
	if ep := r.owner[p.Key]; ep != r.self {
		return ep, nil
	}
	return "", nil
}

func (r *loopRemote) Decide(ctx context.Context, leader string, req txn.DecideRequest) (txn.State, error) {
	if r.down.Load() {
		r.told.Add(1)
		return "", errors.New("connection refused")
	}
	return r.nodes[leader].Decide(ctx, req)
}

func (r *loopRemote) Apply(ctx context.Context, ep string, req txn.DecideRequest) error {
	_, err := r.nodes[ep].ApplyDecision(ctx, req)
	return err
}

func (r *loopRemote) Prepare(ctx context.Context, ep, txnID, relayFor string, parts []txn.Participant) error {
	return r.nodes[ep].PrepareLocal(ctx, txnID, "", relayFor, parts)
}

func (r *loopRemote) Origin(ctx context.Context, txnID string) (*txn.Participant, error) {
	if r.origin == nil {
		return nil, nil
	}
	return r.origin(ctx, txnID)
}

// twoNodes starts a TC leader "l" (owning key b) and a follower "f"
// (owning key a) on one store, as lockd nodes on one bucket. While down
// is set the leader cannot be reached; told counts the decisions the
// follower failed to send meanwhile.
func twoNodes(t *testing.T, st store.Store, clk clock.Clock, down *atomic.Bool) (leader, follower *txn.Service, fkeys *keyspace.Service, told *atomic.Int32) {
	n := startNodes(t, st, clk, down, nil)
	return n.leader, n.follower, n.fkeys, n.told
}

// nodePair is the TC leader "l" and the follower "f" of startNodes, with
// their keyspaces.
type nodePair struct {
	leader, follower *txn.Service
	lkeys, fkeys     *keyspace.Service
	told             *atomic.Int32
}

// originAsker makes the Origin answer of a test's nodes (nil: no node
// has the first key), given the nodes by endpoint.
type originAsker func(nodes map[string]*txn.Service) func(context.Context, string) (*txn.Participant, error)

// startNodes starts the leader "l" (owning key b) and the follower "f"
// (owning key a) on st; see twoNodes for down and told.
func startNodes(t *testing.T, st store.Store, clk clock.Clock, down *atomic.Bool, origin originAsker) nodePair {
	t.Helper()
	n := nodePair{told: new(atomic.Int32)}
	nodes := map[string]*txn.Service{}
	owner := map[string]string{"a": "f", "b": "l"}
	start := func(self string) (*txn.Service, *keyspace.Service) {
		sys := actors.NewSystem()
		keys := keyspace.New(sys, st, keyspace.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}})
		r := &loopRemote{down: down, told: n.told, self: self, nodes: nodes, owner: owner}
		if origin != nil {
			r.origin = origin(nodes)
		}
		s := txn.New(sys, st, keys, txn.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1},
			Leadership: fixedLead{leads: self == "l"}, Remote: r, NodeID: self, Endpoint: self,
			FanoutTimeout: 5 * time.Second})
		s.SetRemote(r)
		nodes[self] = s
		t.Cleanup(func() { s.Close(); keys.Close() })
		return s, keys
	}
	n.leader, n.lkeys = start("l")
	n.follower, n.fkeys = start("f")
	return n
}

// putRecord stores the coordinator record of a decided, applied
// transaction that lists only key b.
func putRecord(t *testing.T, st store.Store, id string, state txn.State, now time.Time) {
	t.Helper()
	rec, _ := json.Marshal(map[string]any{"id": id, "state": state, "term": 1, "applied": true,
		"created": now.Unix(), "decided": now.Unix(), "participants": []txn.Participant{{Namespace: "default", Key: "b"}}})
	if _, err := st.Put(ctx(t), ".txns/t/"+id, rec, store.Cond{}); err != nil {
		t.Fatal(err)
	}
}

// Soak finding (docs/SOAK.md, t/00/0): key a minted a transaction on a
// node that is not the TC leader and was enlisted, but the record (its
// origin was lost in a restart) lists only b. The transaction rolled back
// and was applied. a's lease lapses; touching a tells the leader, which
// must roll a back although a is not in the record, so that a is released
// and the next holder gets it.
func TestLapsedUnlistedParticipantIsReleasedAfterAppliedDecision(t *testing.T) {
	for _, state := range []txn.State{txn.Rollback, txn.Commit} {
		t.Run(string(state), func(t *testing.T) {
			st, clk := mem.New(), clock.NewFake(time.Now())
			_, follower, fkeys, _ := twoNodes(t, st, clk, new(atomic.Bool))
			lapsedUnlisted(t, st, clk, follower, fkeys, state)

			// Another worker wants a; the bound is real time (the fake
			// clock never fires the waiter's own deadline).
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l, err := fkeys.Acquire(wctx, keyspace.AcquireRequest{Ref: ref("a"), Owner: "other", TTL: time.Minute, Wait: time.Minute})
			if err != nil {
				t.Fatalf("a is still held by its transaction's lapsed lease: %v", err)
			}
			if l.Fencing != 2 {
				t.Fatalf("fencing %d, want 2", l.Fencing)
			}
			v, err := fkeys.Get(ctx(t), keyspace.GetRequest{Ref: ref("a"), Public: true})
			if err != nil {
				t.Fatal(err)
			}
			if !v.NoState {
				t.Fatalf("a's staged write was committed by a %s that did not list it", state)
			}
		})
	}
}

// lapsedUnlisted stages a write under a lease of key a that mints a
// transaction on the follower and is enlisted in it, records the
// transaction as decided (state) and applied with only b listed, and lets
// a's lease lapse.
func lapsedUnlisted(t *testing.T, st store.Store, clk *clock.Fake, follower *txn.Service, fkeys *keyspace.Service, state txn.State) {
	t.Helper()
	a, err := follower.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "t", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	body := `1`
	if _, err := fkeys.Update(ctx(t), keyspace.UpdateRequest{Ref: a.Ref, LeaseProof: proof(a),
		Body: strings.NewReader(body), Size: int64(len(body)), ETag: "e-1"}); err != nil {
		t.Fatal(err)
	}
	if err := fkeys.Enlist(ctx(t), ref("a"), a.TxnID); err != nil {
		t.Fatal(err)
	}
	putRecord(t, st, a.TxnID, state, clk.Now())
	clk.Advance(2 * time.Second)
}

// A key whose expiry could not be told (the leader was cut off) tells
// again when it is next settled, until it is released.
func TestLapsedUnlistedParticipantTellsAgainAfterTheLeaderWasUnreachable(t *testing.T) {
	st, clk, down := mem.New(), clock.NewFake(time.Now()), new(atomic.Bool)
	_, follower, fkeys, _ := twoNodes(t, st, clk, down)
	down.Store(true)
	lapsedUnlisted(t, st, clk, follower, fkeys, txn.Rollback)
	try := func(d time.Duration) error {
		wctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := fkeys.Acquire(wctx, keyspace.AcquireRequest{Ref: ref("a"), Owner: "other", TTL: time.Minute, Wait: time.Minute})
		return err
	}
	if err := try(200 * time.Millisecond); err == nil {
		t.Fatal("a was released although the leader could not be told")
	}
	down.Store(false)
	// Each try settles a again (a worker that retries its acquire); the
	// telling of the failed try may still be in flight for the first.
	var err error
	for range 20 {
		if err = try(250 * time.Millisecond); err == nil {
			return
		}
	}
	t.Fatalf("a is still held after the leader came back: %v", err)
}

// A participant outside a committed transaction's record that asks to
// commit learns that it was rolled back.
func TestCommitOfUnlistedParticipantIsAborted(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Minute)
	e.stage(a, `1`)
	if err := e.keys.Enlist(ctx(t), ref("a"), a.TxnID); err != nil {
		t.Fatal(err)
	}
	putRecord(t, e.st, a.TxnID, txn.Commit, e.clk.Now())
	if err := e.release(a, false); !errors.Is(err, txn.ErrAborted) {
		t.Fatalf("commit of a participant the committed record does not list: %v, want aborted", err)
	}
	if got := e.public("a"); got != "-" {
		t.Fatalf("a = %s, want no state", got)
	}
	e.acquire("a", "", time.Minute) // a was given back
}

// A waiter does not depend on another request to settle the key: while
// it waits, the key settles its lapsed lease again after a pause (1 s,
// doubling) and tells the TC again, so the waiter gets the key once the
// leader is back.
func TestWaiterGetsLapsedUnlistedKeyOnceTheLeaderIsBack(t *testing.T) {
	st, clk, down := mem.New(), clock.NewFake(time.Now()), new(atomic.Bool)
	_, follower, fkeys, told := twoNodes(t, st, clk, down)
	down.Store(true)
	lapsedUnlisted(t, st, clk, follower, fkeys, txn.Rollback)
	got := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := fkeys.Acquire(wctx, keyspace.AcquireRequest{Ref: ref("a"), Owner: "other", TTL: time.Minute, Wait: time.Hour})
		got <- err
	}()
	// The acquire and the lease's own deadline settle a at most twice;
	// more tellings come only from the waiting key settling again.
	for n := 0; told.Load() < 3; n++ {
		if n == 250 {
			t.Fatalf("the waiting key told the TC %d times in 250 s of its clock, want it to keep telling", told.Load())
		}
		select {
		case err := <-got:
			t.Fatalf("waiter answered while the leader was unreachable: %v", err)
		case <-time.After(20 * time.Millisecond):
			clk.Advance(time.Second)
		}
	}
	down.Store(false)
	deadline := time.After(8 * time.Second)
	for {
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("waiter: %v", err)
			}
			return
		case <-deadline:
			t.Fatal("the waiter never got a: the key did not tell the TC again")
		case <-time.After(20 * time.Millisecond):
			clk.Advance(time.Second)
		}
	}
}
