package keyspace_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store/mem"
)

type env struct {
	t   *testing.T
	st  *mem.Store
	clk *clock.Fake
	svc *keyspace.Service
	cfg keyspace.Config
}

func newEnv(t *testing.T, mutate ...func(*keyspace.Config)) *env {
	e := &env{t: t, st: mem.New(), clk: clock.NewFake(time.Now())}
	e.cfg = keyspace.Config{DefaultTTL: 30 * time.Second, MaxTTL: time.Hour, Clock: e.clk, Actors: actors.Config{IdleAfter: -1}}
	for _, m := range mutate {
		m(&e.cfg)
	}
	e.start()
	return e
}

func (e *env) start() {
	e.svc = keyspace.New(actors.NewSystem(), e.st, e.cfg)
	e.t.Cleanup(e.svc.Close)
}

// crash simulates kill -9: the service stops and a new one starts on what
// the store had made durable.
func (e *env) crash() {
	e.svc.Close()
	e.st = e.st.Crash()
	e.start()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var ref = keyspace.Ref{Namespace: "default", Key: "orders/1"}

func (e *env) acquire(owner string) keyspace.Lease {
	e.t.Helper()
	l, err := e.svc.Acquire(ctx(e.t), keyspace.AcquireRequest{Ref: ref, Owner: owner})
	if err != nil {
		e.t.Fatalf("acquire %s: %v", owner, err)
	}
	return l
}

func proof(l keyspace.Lease) keyspace.LeaseProof {
	return keyspace.LeaseProof{LeaseID: l.LeaseID, Fencing: l.Fencing, TxnID: l.TxnID}
}

func etag(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

func (e *env) update(l keyspace.Lease, body string) (keyspace.UpdateResult, error) {
	return e.svc.Update(ctx(e.t), keyspace.UpdateRequest{
		Ref: ref, LeaseProof: proof(l), Body: strings.NewReader(body), Size: int64(len(body)), ETag: etag(body),
	})
}

func (e *env) release(l keyspace.Lease, rollback bool) {
	e.t.Helper()
	if _, err := e.svc.Release(ctx(e.t), keyspace.ReleaseRequest{Ref: ref, LeaseProof: proof(l), Rollback: rollback}); err != nil {
		e.t.Fatalf("release: %v", err)
	}
}

func (e *env) read(v keyspace.View) string {
	e.t.Helper()
	if v.NoState {
		return "<none>"
	}
	r, err := e.svc.OpenState(ctx(e.t), v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

func (e *env) public() string {
	e.t.Helper()
	v, err := e.svc.Get(ctx(e.t), keyspace.GetRequest{Ref: ref, Public: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.read(v)
}

func TestStagedInvisibleUntilCommit(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	if l.Fencing != 1 || l.Version != 0 {
		t.Fatalf("first lease %+v", l)
	}
	res, err := e.update(l, `{"n":1}`)
	if err != nil || res.NewVersion != 1 || res.NewETag != etag(`{"n":1}`) {
		t.Fatalf("update: %+v %v", res, err)
	}
	if got := e.public(); got != "<none>" {
		t.Fatalf("public read saw staged state %q", got)
	}
	e.release(l, false)
	if got := e.public(); got != `{"n":1}` {
		t.Fatalf("public after commit = %q", got)
	}
	l = e.acquire("b")
	if l.Version != 1 || l.Fencing != 2 {
		t.Fatalf("second lease %+v", l)
	}
	e.update(l, `{"n":2}`)
	if got := e.public(); got != `{"n":1}` {
		t.Fatalf("public saw staged over committed: %q", got)
	}
	v, _ := e.svc.Get(ctx(t), keyspace.GetRequest{Ref: ref, LeaseProof: proof(l)})
	if got := e.read(v); got != `{"n":2}` || v.Version != 2 {
		t.Fatalf("holder read %q v%d, want own staged write", got, v.Version)
	}
	e.release(l, true)
	if got := e.public(); got != `{"n":1}` {
		t.Fatalf("rollback leaked: %q", got)
	}
}

func TestVersionsFollowV09(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	r1, _ := e.update(l, `1`)
	r2, _ := e.update(l, `2`)
	if r1.NewVersion != 1 || r2.NewVersion != 1 {
		t.Fatalf("updates in one txn: %d %d, want 1 1", r1.NewVersion, r2.NewVersion)
	}
	rm, err := e.svc.Remove(ctx(t), keyspace.RemoveRequest{Ref: ref, LeaseProof: proof(l)})
	if err != nil || !rm.Removed || rm.NewVersion != 2 {
		t.Fatalf("remove: %+v %v", rm, err)
	}
	e.release(l, false)
	d, _ := e.svc.Describe(ctx(t), ref)
	if d.Version != 2 || d.ETag != "" {
		t.Fatalf("after committed remove: %+v", d)
	}
}

func TestCAS(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	e.update(l, `"v1"`)
	e.release(l, false)
	l = e.acquire("a")
	stale, fresh := int64(7), int64(1)
	_, err := e.svc.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(l), IfVersion: &stale, Body: strings.NewReader(`1`), Size: 1, ETag: etag("1")})
	var ke *domainerr.Error
	if !errors.Is(err, keyspace.ErrVersionConflict) || !errors.As(err, &ke) || ke.CurrentVersion != 1 {
		t.Fatalf("stale If-Version: %v", err)
	}
	_, err = e.svc.Update(ctx(t), keyspace.UpdateRequest{Ref: ref, LeaseProof: proof(l), IfETag: "nope", Body: strings.NewReader(`1`), Size: 1, ETag: etag("1")})
	if !errors.Is(err, keyspace.ErrETagMismatch) {
		t.Fatalf("stale If-State-ETag: %v", err)
	}
	if _, err := e.svc.Remove(ctx(t), keyspace.RemoveRequest{Ref: ref, LeaseProof: proof(l), IfVersion: &stale}); !errors.Is(err, keyspace.ErrVersionConflict) {
		t.Fatalf("remove ignores X-If-Version: %v", err)
	}
	quoted := `"` + etag(`"v1"`) + `"`
	if _, err := e.svc.Remove(ctx(t), keyspace.RemoveRequest{Ref: ref, LeaseProof: proof(l), IfVersion: &fresh, IfETag: quoted}); err != nil {
		t.Fatalf("remove with matching CAS: %v", err)
	}
}

func TestLeaseChecks(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	bad := l
	bad.Fencing = 99
	if _, err := e.update(bad, `1`); !errors.Is(err, keyspace.ErrFencingMismatch) {
		t.Fatalf("wrong fencing: %v", err)
	}
	bad = l
	bad.LeaseID = "other"
	if _, err := e.update(bad, `1`); !errors.Is(err, keyspace.ErrLeaseRequired) {
		t.Fatalf("wrong lease: %v", err)
	}
	bad = l
	bad.TxnID = "c5v9d0sl70b3m3q8ndg0"
	if _, err := e.update(bad, `1`); !errors.Is(err, keyspace.ErrTxnMismatch) {
		t.Fatalf("wrong txn: %v", err)
	}
	// A release with a foreign lease id answers released and leaves the holder alone.
	ok, err := e.svc.Release(ctx(t), keyspace.ReleaseRequest{Ref: ref, LeaseProof: keyspace.LeaseProof{LeaseID: "x", Fencing: 1, TxnID: l.TxnID}})
	if !ok || err != nil {
		t.Fatalf("foreign release: %v %v", ok, err)
	}
	if _, err := e.update(l, `1`); err != nil {
		t.Fatalf("holder lost lease to a foreign release: %v", err)
	}
	e.clk.Advance(31 * time.Second)
	if _, err := e.svc.KeepAlive(ctx(t), keyspace.KeepAliveRequest{Ref: ref, LeaseProof: proof(l)}); !errors.Is(err, keyspace.ErrLeaseExpired) {
		t.Fatalf("keepalive after expiry: %v", err)
	}
	if _, err := e.svc.KeepAlive(ctx(t), keyspace.KeepAliveRequest{Ref: ref, LeaseProof: proof(l)}); !errors.Is(err, keyspace.ErrLeaseRequired) {
		t.Fatalf("second keepalive after expiry: %v", err)
	}
	if got := e.public(); got != "<none>" {
		t.Fatalf("expired lease's staged write leaked: %q", got)
	}
}

func TestAcquireHeldAndIfNotExists(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	_, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b"})
	var ke *domainerr.Error
	if !errors.Is(err, keyspace.ErrWaiting) || !errors.As(err, &ke) || ke.RetryAfter != 30*time.Second {
		t.Fatalf("held: %v", err)
	}
	e.update(l, `{}`)
	e.release(l, false)
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "b", IfNotExists: true}); !errors.Is(err, keyspace.ErrAlreadyExists) {
		t.Fatalf("if_not_exists on existing key: %v", err)
	}
	other := keyspace.Ref{Namespace: "default", Key: "fresh"}
	if _, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: other, Owner: "b", IfNotExists: true}); err != nil {
		t.Fatalf("if_not_exists on new key: %v", err)
	}
}

func TestTTLClamped(t *testing.T) {
	e := newEnv(t)
	l, _ := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: ref, Owner: "a", TTL: 100 * time.Hour})
	if got := l.ExpiresAt.Sub(e.clk.Now()); got != time.Hour {
		t.Fatalf("ttl %v, want clamp to 1h", got)
	}
}

// acquireAsync starts a blocking acquire and returns its result channel.
func (e *env) acquireAsync(owner string, wait time.Duration) chan error {
	ch := make(chan error, 1)
	go func() {
		l, err := e.svc.Acquire(context.Background(), keyspace.AcquireRequest{Ref: ref, Owner: owner, Wait: wait})
		if err == nil && l.Owner != owner {
			err = errors.New("wrong owner")
		}
		ch <- err
	}()
	return ch
}

func waitErr(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("blocked acquire never answered")
		return nil
	}
}

func TestBlockedAcquirersFIFO(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	var chans []chan error
	for _, o := range []string{"b", "c", "d"} {
		chans = append(chans, e.acquireAsync(o, time.Minute))
		waitQueued(t, e, len(chans))
	}
	e.release(l, false)
	if err := waitErr(t, chans[0]); err != nil {
		t.Fatalf("b: %v", err)
	}
	d, _ := e.svc.Describe(ctx(t), ref)
	if d.Owner != "b" {
		t.Fatalf("owner %q, want b first", d.Owner)
	}
	// b's lease expires: the timer hands the key to c without any request.
	e.clk.Advance(31 * time.Second)
	if err := waitErr(t, chans[1]); err != nil {
		t.Fatalf("c: %v", err)
	}
	// d times out waiting (its deadline is a minute after it queued).
	e.clk.Advance(30 * time.Second)
	if err := waitErr(t, chans[2]); !errors.Is(err, keyspace.ErrWaiting) {
		t.Fatalf("d: %v, want waiting", err)
	}
}

// waitQueued waits until n acquirers are blocked, observed as a held key
// refusing a no-wait acquire while the queue grows (bounded).
func waitQueued(t *testing.T, e *env, n int) {
	t.Helper()
	// Blocked acquires reach the actor before a later request from this
	// goroutine only if they were sent first; a describe round trip after a
	// short pause orders them.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if e.queued() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d waiters never queued", n)
}

func TestReleaseRepliesOnlyWhenDurable(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	e.update(l, `{"paid":true}`)
	e.st.HoldSyncs()
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Release(context.Background(), keyspace.ReleaseRequest{Ref: ref, LeaseProof: proof(l)})
		done <- err
	}()
	select {
	case <-done:
		t.Fatal("release answered before its write was synced")
	case <-time.After(50 * time.Millisecond):
	}
	e.st.ReleaseSyncs()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.crash()
	if got := e.public(); got != `{"paid":true}` {
		t.Fatalf("acknowledged release lost in crash: %q", got)
	}
}

func TestRestartKeepsLeaseStagedAndFencing(t *testing.T) {
	e := newEnv(t)
	l := e.acquire("a")
	e.update(l, `"staged"`)
	e.crash()
	if _, err := e.update(l, `"again"`); err != nil {
		t.Fatalf("holder lost lease across restart: %v", err)
	}
	e.release(l, false)
	if got := e.public(); got != `"again"` {
		t.Fatalf("after restart+release: %q", got)
	}
	e.crash()
	if l2 := e.acquire("b"); l2.Fencing != 2 {
		t.Fatalf("fencing after restarts = %d, want 2", l2.Fencing)
	}
}

func TestLargeStateUsesBlob(t *testing.T) {
	e := newEnv(t, func(c *keyspace.Config) { c.InlineMax = 16 })
	l := e.acquire("a")
	big := `{"data":"` + strings.Repeat("x", 1000) + `"}`
	if _, err := e.update(l, big); err != nil {
		t.Fatal(err)
	}
	bigger := `{"data":"` + strings.Repeat("y", 2000) + `"}`
	if _, err := e.update(l, bigger); err != nil { // replaces the staged blob
		t.Fatal(err)
	}
	e.release(l, false)
	if got := e.public(); got != bigger {
		t.Fatalf("blob state read back wrong (%d bytes)", len(got))
	}
	l = e.acquire("a")
	e.svc.Remove(ctx(t), keyspace.RemoveRequest{Ref: ref, LeaseProof: proof(l)})
	e.release(l, false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		names, _ := e.st.ListBlobs(context.Background(), "", "", 0)
		if len(names) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("garbage blobs left: %v", names)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPanicRestartsFromStoredRecord(t *testing.T) {
	var mu sync.Mutex
	panicNext := false
	e := newEnv(t, func(c *keyspace.Config) {
		keyspace.SetTestHook(c, func(keyspace.Ref, any) {
			mu.Lock()
			defer mu.Unlock()
			if panicNext {
				panicNext = false
				panic("injected")
			}
		})
	})
	l := e.acquire("a")
	e.update(l, `"kept"`)
	mu.Lock()
	panicNext = true
	mu.Unlock()
	if _, err := e.svc.Describe(ctx(t), ref); !errors.Is(err, keyspace.ErrUnavailable) {
		t.Fatalf("panicking request: %v", err)
	}
	if _, err := e.update(l, `"after"`); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	e.release(l, false)
	if got := e.public(); got != `"after"` {
		t.Fatalf("state after restart %q", got)
	}
}

func TestPassivationReloads(t *testing.T) {
	e := newEnv(t, func(c *keyspace.Config) { c.Actors = actors.Config{IdleAfter: time.Nanosecond, Tick: time.Hour} })
	for i := 0; i < 100; i++ {
		r := keyspace.Ref{Namespace: "default", Key: "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: r, Owner: "o"})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Release(ctx(t), keyspace.ReleaseRequest{Ref: r, LeaseProof: proof(l)})
	}
	e.clk.Advance(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for e.svc.Live() > 0 && time.Now().Before(deadline) {
		e.svc.PassivateIdle()
		time.Sleep(time.Millisecond)
	}
	if e.svc.Live() != 0 {
		t.Fatalf("live actors = %d", e.svc.Live())
	}
	l, err := e.svc.Acquire(ctx(t), keyspace.AcquireRequest{Ref: keyspace.Ref{Namespace: "default", Key: "kaa"}, Owner: "o"})
	if err != nil || l.Fencing != 2 {
		t.Fatalf("reloaded key: %+v %v", l, err)
	}
}

func (e *env) queued() int {
	n, err := e.svc.Waiters(ctx(e.t), ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestSweepOrphans(t *testing.T) {
	e := newEnv(t, func(c *keyspace.Config) { c.InlineMax = 4 })
	l := e.acquire("a")
	if _, err := e.update(l, `{"big":"state"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Attach(ctx(t), keyspace.AttachRequest{Ref: ref, LeaseProof: proof(l), Name: "f.bin", Body: strings.NewReader("data"), ExpectedBytes: -1}); err != nil {
		t.Fatal(err)
	}
	// An upload that crashed before reaching its key.
	orphan := "default/a/orders/1:" + "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	e.st.WriteBlob(context.Background(), orphan, strings.NewReader("lost"))
	e.st.WriteBlob(context.Background(), "default/q/jobs/p/xyz", strings.NewReader("queue payload, not ours"))
	e.clk.Advance(2 * time.Hour) // the lease expires while nobody touches the key
	n, err := e.svc.SweepOrphans(ctx(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := e.st.ListBlobs(context.Background(), "", "", 0)
	if n != 3 || len(names) != 1 || names[0] != "default/q/jobs/p/xyz" {
		t.Fatalf("swept %d, left %v", n, names)
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
