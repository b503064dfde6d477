package txn_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

type env struct {
	t    *testing.T
	st   *mem.Store
	clk  *clock.Fake
	keys *keyspace.Service
	txns *txn.Service
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, st: mem.New(), clk: clock.NewFake(time.Now())}
	e.start()
	return e
}

func (e *env) start() {
	sys := actors.NewSystem()
	e.keys = keyspace.New(sys, e.st, keyspace.Config{Clock: e.clk, Actors: actors.Config{IdleAfter: -1}})
	e.txns = txn.New(sys, e.st, e.keys, txn.Config{Clock: e.clk, Actors: actors.Config{IdleAfter: -1}})
	if err := e.txns.Recover(ctx(e.t)); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(e.stop)
}

var stopped = map[*txn.Service]bool{}

func (e *env) stop() {
	if stopped[e.txns] {
		return
	}
	stopped[e.txns] = true
	e.txns.Close()
	e.keys.Close()
}

// crash simulates kill -9 between requests: unsynced writes are lost.
func (e *env) crash() {
	e.stop()
	e.st = e.st.Crash()
	e.start()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func ref(k string) keyspace.Ref { return keyspace.Ref{Namespace: "default", Key: k} }

func proof(l keyspace.Lease) keyspace.LeaseProof {
	return keyspace.LeaseProof{LeaseID: l.LeaseID, Fencing: l.Fencing, TxnID: l.TxnID}
}

func (e *env) acquire(key, txnID string, ttl time.Duration) keyspace.Lease {
	e.t.Helper()
	l, err := e.txns.Acquire(ctx(e.t), keyspace.AcquireRequest{Ref: ref(key), Owner: "t", TxnID: txnID, TTL: ttl})
	if err != nil {
		e.t.Fatalf("acquire %s: %v", key, err)
	}
	return l
}

func (e *env) stage(l keyspace.Lease, body string) {
	e.t.Helper()
	if _, err := e.keys.Update(ctx(e.t), keyspace.UpdateRequest{Ref: l.Ref, LeaseProof: proof(l),
		Body: strings.NewReader(body), Size: int64(len(body)), ETag: "e-" + body}); err != nil {
		e.t.Fatalf("stage %s: %v", l.Key, err)
	}
}

func (e *env) release(l keyspace.Lease, rollback bool) error {
	_, err := e.txns.Release(ctx(e.t), keyspace.ReleaseRequest{Ref: l.Ref, LeaseProof: proof(l), Rollback: rollback})
	return err
}

func (e *env) public(key string) string {
	e.t.Helper()
	v, err := e.keys.Get(ctx(e.t), keyspace.GetRequest{Ref: ref(key), Public: true})
	if err != nil {
		e.t.Fatal(err)
	}
	if v.NoState {
		return "-"
	}
	r, _ := e.keys.OpenState(ctx(e.t), v)
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

func TestMultiKeyCommitIsOneDecision(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Minute)
	b := e.acquire("b", a.TxnID, time.Minute)
	c := e.acquire("c", a.TxnID, time.Minute)
	e.stage(a, `"a1"`)
	e.stage(b, `"b1"`)
	e.stage(c, `"c1"`)
	if got := e.public("b"); got != "-" {
		t.Fatalf("staged visible: %s", got)
	}
	if err := e.release(b, false); err != nil { // any participant decides
		t.Fatal(err)
	}
	for k, want := range map[string]string{"a": `"a1"`, "b": `"b1"`, "c": `"c1"`} {
		if got := e.public(k); got != want {
			t.Fatalf("%s = %s, want %s", k, got, want)
		}
	}
	// v0.9 clients release every key in turn: later releases answer OK.
	if err := e.release(a, false); err != nil {
		t.Fatalf("later release: %v", err)
	}
	if err := e.release(c, true); err != nil {
		t.Fatalf("later rollback of a committed txn: %v", err)
	}
	if st, _ := e.txns.State(ctx(t), a.TxnID); st != txn.Commit {
		t.Fatalf("state %s", st)
	}
}

func TestRollbackDiscardsEveryParticipant(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Minute)
	b := e.acquire("b", a.TxnID, time.Minute)
	e.stage(a, `1`)
	e.stage(b, `2`)
	if err := e.release(a, true); err != nil {
		t.Fatal(err)
	}
	if e.public("a") != "-" || e.public("b") != "-" {
		t.Fatal("rollback leaked")
	}
	// Both keys are free again.
	e.acquire("a", "", time.Minute)
	e.acquire("b", "", time.Minute)
}

func TestExpiredParticipantAbortsCommit(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Hour)
	b := e.acquire("b", a.TxnID, time.Second)
	e.stage(a, `1`)
	e.stage(b, `2`)
	e.clk.Advance(2 * time.Second)
	err := e.release(a, false)
	if !errors.Is(err, txn.ErrAborted) {
		t.Fatalf("commit with an expired participant: %v", err)
	}
	if e.public("a") != "-" || e.public("b") != "-" {
		t.Fatal("partial commit")
	}
	if st, _ := e.txns.State(ctx(t), a.TxnID); st != txn.Rollback {
		t.Fatalf("state %s", st)
	}
}

// A participant's expiry alone (nobody releases) rolls the transaction back
// once the key is touched.
func TestExpiryRollsBackWhenTouched(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Second)
	b := e.acquire("b", a.TxnID, time.Hour)
	e.stage(a, `1`)
	e.stage(b, `2`)
	e.clk.Advance(2 * time.Second)
	// Another worker wants a: the expired, enlisted lease rolls the txn back
	// and hands the key over.
	l, err := e.keys.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("a"), Owner: "other", Wait: 5 * time.Second})
	if err != nil {
		t.Fatalf("acquire after expiry: %v", err)
	}
	if l.Fencing != 2 {
		t.Fatalf("fencing %d", l.Fencing)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := e.txns.State(ctx(t), a.TxnID)
		if st == txn.Rollback {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("txn state %s", st)
		}
		time.Sleep(time.Millisecond)
	}
	// b's holder asks to commit: it learns that its writes were rolled back.
	if err := e.release(b, false); !errors.Is(err, keyspace.ErrAborted) {
		t.Fatalf("commit of b after rollback: %v", err)
	}
	if err := e.release(b, true); err != nil {
		t.Fatalf("rollback of b after rollback: %v", err)
	}
	if e.public("b") != "-" {
		t.Fatal("b committed although the txn rolled back")
	}
}

func TestJoinDecidedTransactionFails(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Minute)
	e.acquire("b", a.TxnID, time.Minute)
	e.release(a, false)
	_, err := e.txns.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref("c"), Owner: "t", TxnID: a.TxnID})
	if !errors.Is(err, txn.ErrDecided) {
		t.Fatalf("join decided: %v", err)
	}
	e.acquire("c", "", time.Minute) // c was given back
}

func TestRecoverAppliesDurableDecision(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Hour)
	b := e.acquire("b", a.TxnID, time.Hour)
	e.stage(a, `"A"`)
	e.stage(b, `"B"`)
	// Decide without applying, as if the process died right after the
	// decision: write the record by the decide API with a participant list
	// but fail every apply by crashing before it.
	if _, err := e.txns.Decide(ctx(t), txn.DecideRequest{TxnID: a.TxnID, State: txn.Commit}); err != nil {
		t.Fatal(err)
	}
	e.crash()
	if e.public("a") != `"A"` || e.public("b") != `"B"` {
		t.Fatalf("after crash: a=%s b=%s", e.public("a"), e.public("b"))
	}
}

// A key acquired before a restart is still enlisted when another key joins
// its transaction after the restart: the rollback reaches it.
func TestOriginSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	a := e.acquire("a", "", time.Hour)
	e.stage(a, `"A"`)
	e.crash()
	if ok, err := e.keys.RebuildOrigins(ctx(t)); !ok || err != nil {
		t.Fatalf("rebuild: %v %v", ok, err)
	}
	b := e.acquire("b", a.TxnID, time.Hour)
	e.stage(b, `"B"`)
	if err := e.release(b, true); err != nil { // roll the whole transaction back
		t.Fatal(err)
	}
	if err := e.release(a, false); !errors.Is(err, keyspace.ErrAborted) {
		t.Fatalf("origin committed alone after its transaction rolled back: %v", err)
	}
	if e.public("a") != "-" || e.public("b") != "-" {
		t.Fatalf("a=%s b=%s", e.public("a"), e.public("b"))
	}
}
