package soak

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testservers"
)

// lockdBin is the server binary the tests start, built once.
var lockdBin string

// lockdDir holds the test binaries.
var lockdDir string

var (
	unsafeOnce sync.Once
	unsafeBin  string
	unsafeErr  error
)

// unsafeLockd is the server built with -tags lockdunsafe, the only build
// that honours LOCKD_TEST_UNSAFE; it is built once, on first use.
func unsafeLockd(t *testing.T) string {
	t.Helper()
	unsafeOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			unsafeErr = err
			return
		}
		unsafeBin, unsafeErr = buildLockd(root, lockdDir, true)
	})
	if unsafeErr != nil {
		t.Fatal(unsafeErr)
	}
	return unsafeBin
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lockd-soak-bin-")
	if err != nil {
		panic(err)
	}
	lockdDir = dir
	root, err := moduleRoot()
	if err != nil {
		panic(err)
	}
	if lockdBin, err = buildLockd(root, dir, false); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testSeed is LOCKD_SOAK_SEED, or def: a failing run names its seed, and
// setting it replays that schedule.
func testSeed(t *testing.T, def uint64) uint64 {
	if s := os.Getenv("LOCKD_SOAK_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LOCKD_SOAK_SEED=%q: %v", s, err)
		}
		return n
	}
	return def
}

func runProfile(t *testing.T, p *Profile) *Result {
	t.Helper()
	p.Lockd = lockdBin
	if p.Unsafe != "" {
		p.Lockd = unsafeLockd(t)
	}
	dir := t.TempDir()
	if keep := os.Getenv("LOCKD_SOAK_OUT"); keep != "" { // keep the reports to look at them
		dir = filepath.Join(keep, t.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	res, err := Run(ctx, p, dir, &log)
	if err != nil {
		t.Fatalf("soak run: %v\n%s", err, log.String())
	}
	if _, err := res.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return res
}

func summary(r *Result) string {
	var b bytes.Buffer
	r.WriteSummary(&b)
	return b.String()
}

// TestCIProfile is the CI profile (mem and disk; kill -9 twice, a
// graceful restart, chaos-proxy windows and client clock jumps) against
// the real server: every invariant must hold.
func TestCIProfile(t *testing.T) {
	p, err := NewProfile("ci")
	if err != nil {
		t.Fatal(err)
	}
	p.Seed = testSeed(t, 1)
	p.Phases = withoutStore(p.Phases, "cluster") // TestCIProfileCluster
	start := time.Now()
	res := runProfile(t, p)
	t.Logf("ci profile: %v\n%s", time.Since(start).Round(time.Second), summary(res))
	if !res.Passed {
		t.Fatalf("the CI soak profile failed (seed %d; LOCKD_SOAK_SEED=%d replays it)", p.Seed, p.Seed)
	}
	for _, ph := range res.Phases {
		if ph.Ops < 1000 {
			t.Errorf("phase %s ran only %d operations", ph.Name, ph.Ops)
		}
		kinds := map[string]int{}
		for _, f := range ph.Faults {
			kinds[f.Kind]++
		}
		if ph.Store == "disk" && (kinds[FaultKill9] < 2 || kinds[FaultRestart] < 1 || kinds[FaultChaos] < 1) {
			t.Errorf("phase %s injected %v; want kill9×2, restart and chaos", ph.Name, kinds)
		}
	}
}

func withoutStore(phases []Phase, store string) []Phase {
	var out []Phase
	for _, ph := range phases {
		if ph.Store != store {
			out = append(out, ph)
		}
	}
	return out
}

// TestCIProfileCluster is the CI profile's cluster phase: three lockd
// processes on one versitygw bucket joined as a cluster behind a
// round-robin balancer; kill -9 and restart of one node, a partition of
// one node, a node joining during the load. Every invariant must hold.
func TestCIProfileCluster(t *testing.T) {
	if _, err := testservers.VersityGWBinary(); err != nil {
		t.Fatal(err)
	}
	p, err := NewProfile("ci")
	if err != nil {
		t.Fatal(err)
	}
	p.Seed = testSeed(t, 1)
	p.Phases = []Phase{ciClusterPhase}
	start := time.Now()
	res := runProfile(t, p)
	t.Logf("ci profile, cluster phase: %v\n%s", time.Since(start).Round(time.Second), summary(res))
	if !res.Passed {
		t.Fatalf("the CI soak profile's cluster phase failed (seed %d; LOCKD_SOAK_SEED=%d replays it)", p.Seed, p.Seed)
	}
	ph := res.Phases[0]
	if ph.Ops < 500 {
		t.Errorf("the cluster phase ran only %d operations", ph.Ops)
	}
	kinds := map[string]int{}
	for _, f := range ph.Faults {
		if f.Err != "" {
			t.Errorf("fault %s failed: %s", f.Kind, f.Err)
		}
		kinds[f.Kind]++
	}
	if kinds[FaultKill9] < 1 || kinds[FaultPartition] < 1 || kinds[FaultJoin] < 1 {
		t.Errorf("the cluster phase injected %v; want kill9, partition and join", kinds)
	}
	for _, check := range []string{"linearizability", "fencing", "no-lost-increments", "queue-delivery", "durable-after-kill9"} {
		if st := verdictOf(res, check); st != Passed {
			t.Errorf("check %s: %s", check, st)
		}
	}
}

// TestDiskFullFault exercises the disk-full fault: the server's files
// stop growing for a while, then it must serve again (by itself, or after
// the restart the harness gives it). The verdicts are logged, not
// asserted: a full disk currently breaks linearizability on the server
// (docs/SOAK.md, known findings).
func TestDiskFullFault(t *testing.T) {
	p, err := NewProfile("ci")
	if err != nil {
		t.Fatal(err)
	}
	p.Seed = testSeed(t, 1)
	p.Phases = []Phase{{Name: "disk", Store: "disk", Duration: 12 * time.Second, Faults: FaultPlan{DiskFull: 1}}}
	res := runProfile(t, p)
	t.Logf("disk-full run:\n%s", summary(res))
	ph := res.Phases[0]
	if ph.Err != "" {
		t.Fatal(ph.Err)
	}
	var ev *FaultEvent
	for i := range ph.Faults {
		if ph.Faults[i].Kind == FaultDiskFull {
			ev = &ph.Faults[i]
		}
	}
	switch {
	case ev == nil:
		t.Fatalf("no disk-full fault was injected: %+v", ph.Faults)
	case ev.Err != "":
		t.Fatalf("disk-full fault failed: %s", ev.Err)
	case verdictOf(res, "server-liveness") == Failed:
		t.Fatalf("the server did not serve again after the disk had room")
	}
	if !strings.Contains(readFile(t, filepath.Join(res.OutDir, "lockd-disk.log")), "file too large") {
		t.Error("the server never saw a write fail: the file-size limit had no effect")
	}
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// brokenProfile is a short mem run with client clock jumps and no other
// faults, against a server started with LOCKD_TEST_UNSAFE=mode.
func brokenProfile(t *testing.T, mode string) *Profile {
	p, err := NewProfile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	p.Seed, p.Unsafe = testSeed(t, 3), mode
	p.Phases = []Phase{{Name: "mem", Store: "mem", Duration: 8 * time.Second, Faults: FaultPlan{ClockJumps: 3}}}
	return p
}

// verdictOf returns the status of a check in the run's first phase.
func verdictOf(r *Result, check string) Status {
	for _, v := range r.Phases[0].Verdicts {
		if v.Check == check {
			return v.Status
		}
	}
	return ""
}

// TestBrokenBuildFails proves the checkers can fail: a server that
// reuses fencing tokens fails the fencing check; a server that accepts
// stale lease proofs lets a paused client's late commit through, which
// breaks linearizability and loses an increment.
func TestBrokenBuildFails(t *testing.T) {
	t.Run("reuse-fencing", func(t *testing.T) {
		res := runProfile(t, brokenProfile(t, "reuse-fencing"))
		out := summary(res)
		if res.Passed || verdictOf(res, "fencing") != Failed {
			t.Fatalf("the fencing check passed against a server that reuses tokens:\n%s", out)
		}
		if !bytes.Contains([]byte(out), []byte("was granted twice")) || !bytes.Contains([]byte(out), []byte("-seed")) {
			t.Fatalf("the failure does not name the duplicate grant and the seed:\n%s", out)
		}
		t.Logf("broken build detected as expected:\n%s", out)
	})
	t.Run("skip-lease-check", func(t *testing.T) {
		res := runProfile(t, brokenProfile(t, "skip-lease-check"))
		out := summary(res)
		if res.Passed || verdictOf(res, "linearizability") != Failed && verdictOf(res, "no-lost-increments") != Failed {
			t.Fatalf("the state checks passed against a server that accepts stale lease proofs:\n%s", out)
		}
		t.Logf("broken build detected as expected:\n%s", out)
	})
}
func TestPlanFaultsIsDeterministic(t *testing.T) {
	ph := Phase{Name: "disk", Duration: 45 * time.Second, Faults: FaultPlan{Kill9: 2, Restart: 1, DiskFull: 1, Chaos: 4, ClockJumps: 2}}
	a, b := planFaults(7, ph, true), planFaults(7, ph, true)
	if len(a) != 10 {
		t.Fatalf("%d faults planned, want 10", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 planned differently: %+v vs %+v", a[i], b[i])
		}
		if a[i].At < 0 || a[i].At > ph.Duration {
			t.Fatalf("fault outside the phase: %+v", a[i])
		}
	}
	if c := planFaults(8, ph, true); c[0] == a[0] && c[1] == a[1] {
		t.Fatal("seeds 7 and 8 planned the same faults")
	}
}
