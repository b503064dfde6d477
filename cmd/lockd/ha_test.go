package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/cluster/ha"
	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

const haLeaseTTL = 5 * time.Second

// haBucket is a fresh versitygw bucket as the binary takes it.
func haBucket(t *testing.T) (string, []string) {
	endpoint, access, secret, bucket := testservers.StartS3(t)
	return fmt.Sprintf("s3://%s/%s/ha?insecure=1", endpoint, bucket),
		[]string{"LOCKD_S3_ACCESS_KEY_ID=" + access, "LOCKD_S3_SECRET_ACCESS_KEY=" + secret}
}

var probeClient = &http.Client{Timeout: 500 * time.Millisecond}

// ready reports whether the node answers /readyz 200.
func ready(url string) bool {
	resp, err := probeClient.Get(url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// readyOne waits (bounded) until exactly one of nodes is ready and returns
// it with how long that took.
func readyOne(t *testing.T, nodes []*proc, within time.Duration) (*proc, time.Duration) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		var up []*proc
		for _, n := range nodes {
			if ready(n.URL) {
				up = append(up, n)
			}
		}
		if len(up) > 1 {
			t.Fatalf("%d nodes ready at once", len(up))
		}
		if len(up) == 1 {
			return up[0], time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no node ready within %s", within)
	return nil, 0
}

// watchTakeover polls nodes from now on and sends how long it took until
// one of them was ready (bounded by within; 0 when none was).
func watchTakeover(nodes []*proc, within time.Duration) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() { out <- (<-watchTakeoverAt(nodes, within)).after }()
	return out
}

// takeoverSeen is when a node was first seen ready: after how long, and
// the instant (zero when none was).
type takeoverSeen struct {
	after time.Duration
	at    time.Time
}

func watchTakeoverAt(nodes []*proc, within time.Duration) <-chan takeoverSeen {
	out := make(chan takeoverSeen, 1)
	start := time.Now()
	go func() {
		for time.Since(start) < within {
			for _, n := range nodes {
				if ready(n.URL) {
					now := time.Now()
					out <- takeoverSeen{after: now.Sub(start), at: now}
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- takeoverSeen{}
	}()
	return out
}

// waitFrozen waits until a stopped process no longer answers /healthz.
func waitFrozen(p *proc, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := probeClient.Get(p.URL + "/healthz")
		if err != nil {
			return nil
		}
		resp.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("the stopped node still answers")
}

// counterWorker increments one counter under its lease through the
// multi-endpoint client until stopped, checking on every cycle that no
// acknowledged commit is missing and that fencing tokens only grow.
type counterWorker struct {
	cli  *sdk.Client
	key  string
	mu   sync.Mutex
	err  error // first invariant violation
	fail []error
	// acked is the last value whose release was acknowledged; ackedAt when.
	acked   int
	ackedAt time.Time
	fencing int64
}

func (w *counterWorker) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := w.cycle(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			w.fail = append(w.fail, err)
			w.mu.Unlock()
		}
	}
}

func (w *counterWorker) cycle(ctx context.Context) error {
	s, err := w.cli.Acquire(ctx, api.AcquireRequest{Key: w.key, Owner: "ha-worker", TTLSeconds: 15, BlockSeconds: 30})
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer s.Close()
	var doc struct{ N int }
	if err := s.Load(ctx, &doc); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	w.mu.Lock()
	if s.FencingToken <= w.fencing {
		w.err = errors.Join(w.err, fmt.Errorf("fencing token %d after %d", s.FencingToken, w.fencing))
	}
	w.fencing = s.FencingToken
	if doc.N < w.acked {
		w.err = errors.Join(w.err, fmt.Errorf("read %d after the release of %d was acknowledged: commit lost", doc.N, w.acked))
	}
	w.mu.Unlock()
	if err := s.Save(ctx, map[string]int{"n": doc.N + 1}); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := s.Release(ctx); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	w.mu.Lock()
	w.acked, w.ackedAt = doc.N+1, time.Now()
	w.mu.Unlock()
	return nil
}

func (w *counterWorker) state() (acked int, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked, w.ackedAt
}

// waitAcked waits (bounded) until the worker acknowledged n more cycles.
func (w *counterWorker) waitAcked(t *testing.T, n int, within time.Duration) {
	t.Helper()
	from, _ := w.state()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if a, _ := w.state(); a >= from+n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("worker acknowledged fewer than %d cycles in %s (failures: %v)", n, within, w.fail)
}

// probeCycle is a fresh lease cycle on its own key through the client:
// it must succeed, riding through whatever failover is under way.
func probeCycle(ctx context.Context, cli *sdk.Client, key string) error {
	s, err := cli.Acquire(ctx, api.AcquireRequest{Key: key, Owner: "probe", TTLSeconds: 30, BlockSeconds: -1})
	if err != nil {
		return err
	}
	if err := s.Save(ctx, map[string]string{"probe": key}); err != nil {
		return err
	}
	return s.Release(ctx)
}

// attemptLog records every HTTP attempt of a client: the node it went
// to, when it started, and its status (0: no answer).
type attemptLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []attempt
}

type attempt struct {
	host   string
	start  time.Time
	status int
}

func (a *attemptLog) RoundTrip(r *http.Request) (*http.Response, error) {
	at := attempt{host: r.URL.Host, start: time.Now()}
	resp, err := a.next.RoundTrip(r)
	if err == nil {
		at.status = resp.StatusCode
	}
	a.mu.Lock()
	a.log = append(a.log, at)
	a.mu.Unlock()
	return resp, err
}

func (a *attemptLog) reset() {
	a.mu.Lock()
	a.log = nil
	a.mu.Unlock()
}

// checkRideThrough checks, by the order of events rather than elapsed
// time, that a probe rode through a failover promptly: every answer
// that succeeded came from the new active node (no other node served it),
// and from the moment the takeover was seen the client tried each other
// node at most once before reaching the new active one.
func (a *attemptLog) checkRideThrough(t *testing.T, active *proc, takeover time.Time) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	host := strings.TrimPrefix(active.URL, "http://")
	after := map[string]int{}
	served := 0
	for _, at := range a.log {
		if at.status > 0 && at.status < 400 {
			if at.host != host {
				t.Fatalf("the probe was served by %s, not the new active node %s: %+v", at.host, host, a.log)
			}
			served++
		}
		if at.host != host && !at.start.Before(takeover) {
			if after[at.host]++; after[at.host] > 1 {
				t.Fatalf("after the takeover the client tried %s again instead of the active node %s: %+v", at.host, host, a.log)
			}
		}
	}
	if served < 3 {
		t.Fatalf("the probe's acquire, save and release were not all answered by %s: %+v", host, a.log)
	}
	t.Logf("%d attempts for the probe; after the takeover, other nodes tried %v", len(a.log), after)
}

// Three lockd processes in failover mode on one versitygw bucket, and an
// SDK client (NewWithEndpoints) over all three. First the active node is
// frozen (SIGSTOP: alive, but silent): a passive node takes over within
// the lease TTL, the client rides through, and the frozen node, once
// thawed, finds its lease gone, serves nothing and exits 76. Then the new
// active node is killed with -9: the last node takes over (at once: it
// proves the dead process gone) and the client rides through again. All
// along a worker increments a counter under its lease: no acknowledged
// commit is lost and fencing tokens only grow.
func TestHAFailoverOnObjectStore(t *testing.T) {
	storeURL, env := haBucket(t)
	args := []string{"--store", storeURL, "--ha", "failover", "--ha-lease-ttl", haLeaseTTL.String()}
	var nodes []*proc
	for i := 0; i < 3; i++ {
		nodes = append(nodes, startLockdEnv(t, env, args...))
	}
	active, _ := readyOne(t, nodes, 10*time.Second)
	if active != nodes[0] {
		t.Fatalf("the first node started is not the active one")
	}
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	cli, err := sdk.NewWithEndpoints(urls, sdk.WithDisableMTLS(true), sdk.WithHTTPTimeout(2*time.Second),
		sdk.WithRetries(100), sdk.WithBackoff(50*time.Millisecond, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// The probes go through a client of their own whose attempts are
	// recorded.
	attempts := &attemptLog{next: http.DefaultTransport}
	probe, err := sdk.NewWithEndpoints(urls, sdk.WithDisableMTLS(true), sdk.WithHTTPTimeout(2*time.Second),
		sdk.WithRetries(100), sdk.WithBackoff(50*time.Millisecond, 300*time.Millisecond),
		sdk.WithHTTPClient(&http.Client{Transport: attempts}))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := &counterWorker{cli: cli, key: "ha/counter"}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); w.run(wctx) }()
	w.waitAcked(t, 10, 30*time.Second)

	// 1. Freeze the active node.
	frozen := active
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	takeover := watchTakeoverAt(nodes[1:], 3*haLeaseTTL)
	if err := waitFrozen(frozen, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	attempts.reset()
	if err := probeCycle(ctx, probe, "probe-1"); err != nil {
		t.Fatalf("client during failover after SIGSTOP: %v", err)
	}
	seen := <-takeover
	if d := seen.after; d == 0 || d > haLeaseTTL {
		t.Fatalf("takeover after SIGSTOP of the active node took %s (0: never), lease TTL %s", d, haLeaseTTL)
	} else {
		t.Logf("SIGSTOP: a passive node serves %s after the active one froze (lease TTL %s)", d, haLeaseTTL)
	}
	active, _ = readyOne(t, []*proc{nodes[1], nodes[2]}, time.Second)
	attempts.checkRideThrough(t, active, seen.at)
	w.waitAcked(t, 10, 30*time.Second)

	// The frozen node wakes up: its lease is gone, it must not serve, and
	// it exits with status 76.
	exited := make(chan error, 1)
	go func() { exited <- frozen.cmd.Wait() }()
	if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 76 {
			t.Fatalf("thawed node exited with %v, want status 76", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the thawed node did not exit")
	}

	// 2. kill -9 the new active node.
	active.kill()
	var last *proc
	for _, n := range nodes[1:] {
		if n != active {
			last = n
		}
	}
	takeover = watchTakeoverAt([]*proc{last}, 3*haLeaseTTL)
	attempts.reset()
	if err := probeCycle(ctx, probe, "probe-2"); err != nil {
		t.Fatalf("client during failover after kill -9: %v", err)
	}
	seen = <-takeover
	if d := seen.after; d == 0 || d > haLeaseTTL {
		t.Fatalf("takeover after kill -9 of the active node took %s (0: never)", d)
	} else {
		t.Logf("kill -9: the last node serves %s after the kill", d)
	}
	attempts.checkRideThrough(t, last, seen.at)
	w.waitAcked(t, 10, 30*time.Second)
	stopWorker()
	<-workerDone
	if w.err != nil {
		t.Fatal(w.err)
	}
	acked, _ := w.state()
	// Read the counter back through the survivor.
	s, err := cli.Acquire(ctx, api.AcquireRequest{Key: w.key, Owner: "checker", TTLSeconds: 10, BlockSeconds: 20})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ N int }
	if err := s.Load(ctx, &doc); err != nil {
		t.Fatal(err)
	}
	s.Release(ctx)
	if doc.N < acked || s.FencingToken <= w.fencing {
		t.Fatalf("final counter %d (acknowledged %d), fencing %d after %d", doc.N, acked, s.FencingToken, w.fencing)
	}
	t.Logf("%d acknowledged increments across two failovers; %d worker cycles failed and were retried: %v", acked, len(w.fail), w.fail)
}

// runLockdFails runs the binary, expects it to exit non-zero within a
// bound, and returns its output.
func runLockdFails(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lockdBin, append([]string{"--listen", "127.0.0.1:0", "--drain-grace", "0s", "--disable-mtls"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) {
		t.Fatalf("lockd %v: want a refusal, got %v: %s", args, err, out)
	}
	return string(out)
}

// readLease reads the HA lease record of the bucket from the test.
func readLease(t *testing.T, storeURL string, env []string) ha.LeaseView {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	st, err := server.OpenStore(storeURL, server.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lv, err := ha.ReadLease(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return lv
}

// A second --ha single node on the same bucket refuses to start and says
// why; a failover node started next to it stays passive; and a single node
// restarted after kill -9 on the same machine starts at once (it proves
// its predecessor dead instead of waiting out the presence TTL).
func TestHASingleModeFencesSecondProcess(t *testing.T) {
	storeURL, env := haBucket(t)
	a := startLockdEnv(t, env, "--store", storeURL, "--ha", "single")
	if !ready(a.URL) {
		t.Fatal("single node not ready")
	}
	out := runLockdFails(t, env, "--store", storeURL, "--ha", "single")
	if !strings.Contains(out, "another lockd node serves this store") || !strings.Contains(out, a.URL) {
		t.Fatalf("second single node's refusal does not say why: %s", out)
	}
	f := startLockdEnv(t, env, "--store", storeURL, "--ha", "failover", "--ha-lease-ttl", haLeaseTTL.String())
	st, body, err := post(f.URL, "/v1/acquire", api.AcquireRequest{Key: "k", Owner: "o", TTLSeconds: 5})
	if err != nil || st != 503 || !strings.Contains(string(body), api.CodeNodePassive) || ready(f.URL) {
		t.Fatalf("failover node next to a single one: %d %s %v", st, body, err)
	}
	h, err := acquireKey(a.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	f.stop(t)
	a.kill()
	b := startLockdEnv(t, env, "--store", storeURL, "--ha", "single")
	if err := h.release(b.URL); err != nil {
		t.Fatalf("release on the restarted single node: %v", err)
	}
}

// An auto node alone holds the lease marked "single"; when a second auto
// node starts, the first marks it "failover" and the second waits passive;
// when the first dies, the second takes over.
func TestHAAutoPromotesWhenAPeerAppears(t *testing.T) {
	storeURL, env := haBucket(t)
	args := []string{"--store", storeURL, "--ha", "auto", "--ha-lease-ttl", haLeaseTTL.String()}
	a := startLockdEnv(t, env, args...)
	if lv := readLease(t, storeURL, env); !ready(a.URL) || lv.Rec.Mode != "single" || lv.Rec.Holder.Endpoint != a.URL {
		t.Fatalf("auto node alone: ready=%v lease %+v", ready(a.URL), lv.Rec)
	}
	b := startLockdEnv(t, env, args...)
	deadline := time.Now().Add(3 * haLeaseTTL)
	var lv ha.LeaseView
	for time.Now().Before(deadline) {
		if lv = readLease(t, storeURL, env); lv.Rec.Mode == "failover" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lv.Rec.Mode != "failover" || lv.Rec.Holder.Endpoint != a.URL || !ready(a.URL) || ready(b.URL) {
		t.Fatalf("after a peer appeared: lease %+v, a ready %v, b ready %v", lv.Rec, ready(a.URL), ready(b.URL))
	}
	h, err := acquireKey(a.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	a.kill()
	if d := <-watchTakeover([]*proc{b}, 3*haLeaseTTL); d == 0 || d > haLeaseTTL {
		t.Fatalf("takeover by the second auto node: %s", d)
	}
	if err := h.release(b.URL); err != nil {
		t.Fatalf("release on the node that took over: %v", err)
	}
}
