package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Result is a whole run: configuration, what happened, and the verdicts.
type Result struct {
	Profile *Profile      `json:"profile"`
	RunID   string        `json:"run_id"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed"`
	Passed  bool          `json:"passed"`
	Phases  []PhaseResult `json:"phases"`
	Notes   []string      `json:"notes"`
	// Replay is the command that replays this run's schedule.
	Replay string `json:"replay"`
	// OutDir holds the reports and the servers' logs.
	OutDir string `json:"out_dir"`
	// Ops is the full history (written to history.json, not report.json).
	Ops []Op `json:"-"`
}

// PhaseResult is one phase's outcome.
type PhaseResult struct {
	Name      string        `json:"name"`
	Store     string        `json:"store"`
	Endpoints []string      `json:"endpoints"`
	Start     time.Duration `json:"start"`
	End       time.Duration `json:"end"` // end of traffic
	Ops       int           `json:"ops"`
	Stats     []KindStats   `json:"stats"`
	Series    []Series      `json:"series"`
	Faults    []FaultEvent  `json:"faults"`
	Proxy     *ProxyStats   `json:"proxy,omitempty"`
	Verdicts  []Verdict     `json:"verdicts"`
	Err       string        `json:"error,omitempty"`
}

// Failed reports whether any verdict of the run is not a pass.
func (r *Result) failed() bool {
	for _, ph := range r.Phases {
		if ph.Err != "" {
			return true
		}
		for _, v := range ph.Verdicts {
			if v.Status == Failed || v.Status == Inconclusive {
				return true
			}
		}
	}
	return false
}

// Run executes the profile and checks it. Reports and logs go to outDir
// (created if needed); progress lines go to logw. The returned error is
// about the harness itself; a broken invariant is a Result that did not
// pass.
func Run(ctx context.Context, p *Profile, outDir string, logw io.Writer) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	started := time.Now()
	res := &Result{Profile: p, Started: started, RunID: fmt.Sprintf("soak-%d-%s", p.Seed, started.Format("150405")), Replay: p.Replay, OutDir: outDir}
	if res.Replay == "" {
		res.Replay = fmt.Sprintf("go run ./soak/cmd/soak -profile %s -seed %d", p.Name, p.Seed)
		if p.Unsafe != "" {
			res.Replay += " -unsafe " + p.Unsafe
		}
	}
	res.Notes = append(res.Notes,
		"clock jumps: the server's clock is not faked (that needs privileges); a clock-jump fault is a client that pauses past its lease's expiry and then commits, as after a jump of its own clock or a GC pause",
	)
	if len(p.Endpoints) == 0 {
		res.Notes = append(res.Notes, "disk full: the server's soft RLIMIT_FSIZE is set to 0 for the window (no file can grow: EFBIG instead of ENOSPC); a real small tmpfs needs root")
		if p.Lockd == "" {
			root, err := moduleRoot()
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(logw, "soak: building lockd\n")
			if p.Lockd, err = buildLockd(root, outDir, p.Unsafe != ""); err != nil {
				return nil, err
			}
		}
	}
	if p.Unsafe != "" {
		res.Notes = append(res.Notes, "UNSAFE server: LOCKD_TEST_UNSAFE="+p.Unsafe+" (test-only; an invariant is broken on purpose; only a binary built with -tags "+unsafeTag+" honours it)")
	}
	rec := NewRecorder(started)
	for _, ph := range p.Phases {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(logw, "soak: phase %s (%s, %v)\n", ph.Name, orExternal(ph.Store), ph.Duration)
		pr := runPhase(ctx, p, ph, res.RunID, rec, outDir, logw)
		for _, v := range pr.Verdicts {
			fmt.Fprintf(logw, "soak:   %-20s %-12s %s\n", v.Check, v.Status, v.Summary)
		}
		res.Phases = append(res.Phases, pr)
	}
	res.Ops = rec.Ops("")
	res.Elapsed = time.Since(started)
	res.Passed = !res.failed() && len(res.Phases) == len(p.Phases)
	return res, ctx.Err()
}

func orExternal(store string) string {
	if store == "" {
		return "external"
	}
	return store
}

// runPhase starts the servers (or proxies the given endpoints), runs
// traffic and faults for the phase's duration, heals, reads the final
// state and checks the history.
func runPhase(ctx context.Context, p *Profile, ph Phase, runID string, rec *Recorder, outDir string, logw io.Writer) PhaseResult {
	rec.SetPhase(ph.Name)
	pr := PhaseResult{Name: ph.Name, Store: orExternal(ph.Store), Start: rec.Now()}
	lay := p.layout(runID+"-"+ph.Name, ph)
	env, err := newPhaseEnv(p, ph, outDir)
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	defer env.close()
	pr.Endpoints = env.endpoints
	tr, err := newTraffic(p, env.endpoints, rec, lay)
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	if env.island != nil {
		if err := tr.withIsland(env.island.url, env.island.hashB); err != nil {
			pr.Err = err.Error()
			return pr
		}
		pr.Endpoints = append(pr.Endpoints, env.island.url)
	}
	defer tr.close()
	opCtx, opCancel := context.WithCancel(ctx)
	defer opCancel()
	ovl := startOverload(ctx, p, env, tr, rec)
	inj := &injector{phase: ph.Name, rec: rec, node: env.node, cluster: env.cluster, proxy: env.proxy, tr: tr, opCtx: opCtx}
	if env.node != nil {
		env.node.mu.Lock()
		env.node.onExit = inj.onExitOf(env.node)
		env.node.mu.Unlock()
	}
	if env.cluster != nil {
		env.cluster.onExitF = inj.onExitOf
		for _, cn := range env.cluster.list() {
			cn.n.mu.Lock()
			cn.n.onExit = inj.onExitOf(cn.n)
			cn.n.mu.Unlock()
		}
	}
	own := env.node != nil || env.cluster != nil
	plan := planFaults(p.Seed, ph, own)
	if env.proxy == nil {
		plan = withoutKind(plan, FaultChaos)
	}

	phaseCtx, cancel := context.WithTimeout(ctx, ph.Duration)
	start := time.Now()
	done := make(chan struct{})
	go func() { inj.run(phaseCtx, start, plan, ph.Faults.Overlap); close(done) }()
	tr.run(phaseCtx, opCtx, p.Seed, phaseStream(ph.Name))
	cancel()
	<-done
	pr.End = rec.Now()
	ovl.stop()
	fmt.Fprintf(logw, "soak:   traffic done: %d faults injected; reading final state\n", len(inj.Events()))

	fin := finalState(ctx, p, ph, env, tr, inj)
	pr.Faults = inj.Events()
	if env.proxy != nil {
		st := env.proxy.Stats()
		pr.Proxy = &st
	}
	ops := rec.Ops(ph.Name)
	pr.Ops = len(ops)
	pr.Stats = summarize(ops)
	width := max(time.Second, (pr.End-pr.Start)/90)
	pr.Series = timeSeries(ops, pr.Start, rec.Now(), width)
	pr.Verdicts = CheckPhase(ph.Name, ops, lay, fin, CheckOptions{LinearizabilityTimeout: p.CheckTimeout, VisualizeDir: outDir})
	pr.Verdicts = append(pr.Verdicts, livenessVerdict(ph.Name, inj, own, fin))
	pr.Verdicts = append(pr.Verdicts, ovl.verdicts(ph.Name, ops, pr.Start, pr.End)...)
	return pr
}

func withoutKind(evs []FaultEvent, kind string) []FaultEvent {
	var out []FaultEvent
	for _, ev := range evs {
		if ev.Kind != kind {
			out = append(out, ev)
		}
	}
	return out
}

// finalState heals every fault, then reads the quiescent state: every
// key under a lease, the queue drained, its dead letters; for a durable
// store it kills the server once more and re-reads every key.
func finalState(ctx context.Context, p *Profile, ph Phase, env *phaseEnv, tr *traffic, inj *injector) Final {
	if env.proxy != nil {
		env.proxy.SetChaos(Chaos{})
	}
	if env.cluster != nil {
		env.cluster.heal()
		inj.procMu.Lock()
		if err := env.cluster.startStopped(); err != nil {
			inj.log(FaultEvent{Phase: ph.Name, Kind: FaultCrash, Detail: "restart before the final read failed", Err: err.Error()})
		}
		inj.procMu.Unlock()
	}
	if env.node != nil {
		inj.procMu.Lock()
		if !env.node.running() {
			if err := env.node.start(); err != nil {
				inj.log(FaultEvent{Phase: ph.Name, Kind: FaultCrash, Detail: "restart before the final read failed", Err: err.Error()})
			}
		}
		inj.procMu.Unlock()
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute+p.drainBound())
	defer cancel()
	fin := Final{QueueChecked: p.Mix.Enqueue > 0}
	keys := tr.lay.AllKeys()
	if fin.QueueChecked {
		fin.Drained, fin.Remaining = tr.drain(fctx, p.drainBound())
		dl, err := tr.deadLetters(fctx)
		if err != nil {
			fin.Drained = false // cannot tell lost from dead
		}
		fin.DeadLetters = dl
	}
	fin.Values, fin.Missing = tr.sweep(fctx, keys, 5)
	if env.cluster != nil {
		// Every node killed at once, then started again: what the
		// cluster acknowledged is in the bucket.
		inj.procMu.Lock()
		err := env.cluster.killAll()
		inj.procMu.Unlock()
		if err == nil {
			fin.AfterCrash, _ = tr.sweep(fctx, keys, 5)
		} else {
			inj.log(FaultEvent{Phase: ph.Name, Kind: FaultCrash, Detail: "restart after the final kill -9 of every node failed", Err: err.Error()})
		}
	}
	if env.node != nil && ph.Store == "disk" {
		inj.procMu.Lock()
		env.node.kill9()
		err := env.node.start()
		inj.procMu.Unlock()
		if err == nil {
			fin.AfterCrash, _ = tr.sweep(fctx, keys, 5)
		}
	}
	return fin
}

// livenessVerdict: the server never exited on its own (outside disk-full
// windows, where dying is an acceptable answer) and came back after
// every fault.
func livenessVerdict(phase string, inj *injector, own bool, fin Final) Verdict {
	v := Verdict{Check: "server-liveness", Phase: phase, Status: Passed,
		Invariant: "the server keeps serving: no exit it was not asked for (disk-full excepted), restarts succeed, every key readable at the end"}
	if !own {
		v.Status, v.Summary = Skipped, "the harness does not own the server"
		return v
	}
	exits := 0
	for _, ev := range inj.Events() {
		v.Checked++
		switch {
		case ev.Err != "" && ev.Kind != FaultCrash:
			v.fail(Failure{Message: fmt.Sprintf("%s at %s: %s", ev.Kind, fmtDur(ev.Start), ev.Err)})
		case ev.unexpectedExit():
			exits++
			v.fail(Failure{Message: fmt.Sprintf("server exited on its own at %s: %s %s", fmtDur(ev.Start), ev.Detail, ev.Err)})
		}
	}
	if len(fin.Missing) > 0 {
		v.fail(Failure{Message: fmt.Sprintf("%d keys could not be read after the faults healed: %v", len(fin.Missing), fin.Missing)})
	}
	v.Summary = fmt.Sprintf("%d fault events, %d unexpected exits", v.Checked, exits)
	for _, ev := range inj.Events() {
		if ev.Finding == "" {
			continue
		}
		if v.Status == Passed {
			v.Status = Warning
		}
		v.Summary += "; " + ev.Kind + ": " + ev.Finding
		if len(v.Failures) < maxFailures {
			v.Failures = append(v.Failures, Failure{Message: fmt.Sprintf("%s at %s: %s", ev.Kind, fmtDur(ev.Start), ev.Finding)})
		}
	}
	return v
}

// phaseEnv is what a phase talks to: its own node behind the proxy, or
// the user's endpoints (optionally behind the proxy).
type phaseEnv struct {
	node *node
	// cluster is a "cluster" phase's nodes, proxies and store.
	cluster *clusterEnv
	// island is island A of its cross-island transactions (nil: none).
	island    *islandEnv
	proxy     *Proxy
	endpoints []string
	// objects is the S3 server of an "s3" phase; metrics the node's
	// /metrics address (overload phases).
	objects *objectStore
	metrics string
}

func newPhaseEnv(p *Profile, ph Phase, outDir string) (*phaseEnv, error) {
	env := &phaseEnv{}
	if len(p.Endpoints) > 0 {
		env.endpoints = p.Endpoints
		if p.Proxy && len(p.Endpoints) == 1 {
			u, err := url.Parse(p.Endpoints[0])
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("soak: -proxy needs a http(s)://host:port endpoint, got %q", p.Endpoints[0])
			}
			if env.proxy, err = NewProxy(u.Host, p.Seed^phaseStream(ph.Name)); err != nil {
				return nil, err
			}
			u.Host = env.proxy.Addr()
			env.endpoints = []string{u.String()}
		}
		return env, nil
	}
	if ph.Store == "cluster" {
		c, err := newClusterEnv(p, ph, outDir)
		if err != nil {
			return nil, err
		}
		env.cluster, env.proxy = c, c.front
		env.endpoints = []string{"http://" + c.front.Addr()}
		if ph.IslandGroups > 0 {
			if env.island, err = newIslandEnv(context.Background(), p, ph, outDir, env.endpoints[0]); err != nil {
				env.close()
				return nil, err
			}
		}
		return env, nil
	}
	// HOME points into the output directory so that a server never
	// reads or creates the user's ~/.lockd bundle.
	n := &node{bin: p.Lockd, args: nodeArgs(p.Lockd), logPath: filepath.Join(outDir, "lockd-"+ph.Name+".log"),
		env: []string{"HOME=" + outDir}}
	switch ph.Store {
	case "mem":
		n.store = "mem://"
	case "disk":
		dir := filepath.Join(outDir, "data-"+ph.Name)
		os.RemoveAll(dir)
		n.store = "disk://" + dir
	case "s3":
		var lat, jit time.Duration
		if p.Overload != nil {
			lat, jit = p.Overload.StoreLatency, p.Overload.StoreJitter
		}
		dir := filepath.Join(outDir, "s3-"+ph.Name)
		os.RemoveAll(dir)
		o, err := startObjectStore(dir, lat, jit, p.Seed^phaseStream(ph.Name)^0x53)
		if err != nil {
			return nil, err
		}
		env.objects = o
		n.store = o.storeURL()
		n.env = append(n.env, o.env()...)
	default:
		return nil, fmt.Errorf("soak: phase %s: unknown store %q (mem, disk, s3 or cluster)", ph.Name, ph.Store)
	}
	if p.Overload != nil {
		port, err := freePort()
		if err != nil {
			env.close()
			return nil, err
		}
		env.metrics = "127.0.0.1:" + fmt.Sprint(port)
		n.args = append(append(n.args, "--metrics-listen", env.metrics), p.Overload.ServerArgs...)
	}
	if p.Unsafe != "" {
		n.env = append(n.env, "LOCKD_TEST_UNSAFE="+p.Unsafe)
	}
	if err := n.start(); err != nil {
		env.close()
		return nil, err
	}
	env.node = n
	proxy, err := NewProxy(n.addr, p.Seed^phaseStream(ph.Name))
	if err != nil {
		n.kill9()
		env.node = nil
		env.close()
		return nil, err
	}
	env.proxy = proxy
	env.endpoints = []string{"http://" + proxy.Addr()}
	return env, nil
}

func (e *phaseEnv) close() {
	if e.island != nil {
		e.island.close()
	}
	if e.cluster != nil {
		e.cluster.close()
		return
	}
	if e.proxy != nil {
		e.proxy.Close()
	}
	if e.node != nil && e.node.running() {
		if err := e.node.stop(15 * time.Second); err != nil && !errors.Is(err, context.Canceled) {
			e.node.kill9()
		}
	}
	if e.objects != nil {
		e.objects.close()
	}
}
