package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// Fault kinds in schedules and reports.
const (
	FaultKill9     = "kill9"
	FaultRestart   = "restart"
	FaultDiskFull  = "disk-full"
	FaultChaos     = "chaos"
	FaultClockJump = "clock-jump"
	FaultCrash     = "server-exit" // the server exited on its own
	// FaultPartition blackholes one cluster node; FaultJoin starts one
	// more node during the load.
	FaultPartition = "partition"
	FaultJoin      = "join"
)

// FaultEvent is one planned fault and, once run, what happened.
type FaultEvent struct {
	Phase string `json:"phase"`
	Kind  string `json:"kind"`
	Mode  string `json:"mode,omitempty"` // chaos mode
	// Node is the cluster node (index) a kill -9, restart or partition
	// hits.
	Node int           `json:"node,omitempty"`
	At   time.Duration `json:"at"`  // planned offset in the phase
	For  time.Duration `json:"for"` // planned length (downtime, window, pause)
	// Start and End are run offsets of what actually happened.
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Detail string        `json:"detail,omitempty"`
	Err    string        `json:"error,omitempty"`
	// Finding is something the server did that is not an invariant
	// violation but deserves a look (e.g. no recovery without restart).
	Finding string `json:"finding,omitempty"`
}

// planFaults draws a phase's fault schedule from the seed and the phase's
// name: process faults (kill -9, restart, disk full) one at a time in the
// middle 15–75% of the phase, chaos windows spread over 5–85%, clock
// jumps anywhere in 10–80%.
func planFaults(seed uint64, ph Phase, withProcess bool) []FaultEvent {
	r := rand.New(rand.NewPCG(seed, 0xFA0175^phaseStream(ph.Name)))
	d := ph.Duration
	var out []FaultEvent
	var proc []string
	if withProcess {
		for range ph.Faults.Kill9 {
			proc = append(proc, FaultKill9)
		}
		for range ph.Faults.Restart {
			proc = append(proc, FaultRestart)
		}
		for range ph.Faults.DiskFull {
			proc = append(proc, FaultDiskFull)
		}
		for range ph.Faults.Partition {
			proc = append(proc, FaultPartition)
		}
		for range ph.Faults.Join {
			proc = append(proc, FaultJoin)
		}
	}
	r.Shuffle(len(proc), func(i, j int) { proc[i], proc[j] = proc[j], proc[i] })
	for i, at := range spread(r, len(proc), d*15/100, d*75/100) {
		ev := FaultEvent{Phase: ph.Name, Kind: proc[i], At: at}
		switch proc[i] {
		case FaultKill9:
			ev.For = 200*time.Millisecond + time.Duration(r.Int64N(int64(800*time.Millisecond)))
		case FaultRestart:
			ev.For = 100 * time.Millisecond
		case FaultDiskFull:
			ev.For = 2*time.Second + time.Duration(r.Int64N(int64(2*time.Second)))
		case FaultPartition:
			// Longer than the others take to declare a node dead (a
			// failed probe and memberlist's 4 s suspicion timeout), so
			// its keys move while it is cut off.
			ev.For = 7*time.Second + time.Duration(r.Int64N(int64(3*time.Second)))
		}
		if ph.Nodes > 1 && ev.Kind != FaultJoin {
			ev.Node = r.IntN(ph.Nodes)
		}
		out = append(out, ev)
	}
	for _, at := range spread(r, ph.Faults.Chaos, d*5/100, d*85/100) {
		m := chaosModes[r.IntN(len(chaosModes))]
		win := 1500*time.Millisecond + time.Duration(r.Int64N(int64(2500*time.Millisecond)))
		out = append(out, FaultEvent{Phase: ph.Name, Kind: FaultChaos, Mode: m.Name, At: at, For: win})
	}
	for range ph.Faults.ClockJumps {
		at := d*10/100 + time.Duration(r.Int64N(int64(d*70/100)))
		out = append(out, FaultEvent{Phase: ph.Name, Kind: FaultClockJump, At: at, For: 1500 * time.Millisecond})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// spread places n moments in [lo, hi): one per equal slot, at a random
// point of the slot's first half, so windows starting there rarely
// overlap the next slot.
func spread(r *rand.Rand, n int, lo, hi time.Duration) []time.Duration {
	if n <= 0 || hi <= lo {
		return nil
	}
	slot := (hi - lo) / time.Duration(n)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = lo + time.Duration(i)*slot + time.Duration(r.Int64N(int64(slot/2)+1))
	}
	return out
}

// injector runs one phase's schedule against its node and proxy.
type injector struct {
	phase string
	rec   *Recorder
	node  *node // nil for user-given endpoints and clusters
	// cluster is a cluster phase's nodes (nil otherwise).
	cluster *clusterEnv
	proxy   *Proxy // nil without a proxy
	tr      *traffic
	// opCtx bounds requests (zombie clients); it outlives the phase's
	// schedule so that a fault started late still completes.
	opCtx context.Context

	// procMu serialises what starts and stops the server.
	procMu sync.Mutex
	mu     sync.Mutex
	events []FaultEvent
	// inDiskFull is set while a disk-full window runs: a server exit
	// then is reported as the server's answer to a full disk.
	inDiskFull bool
}

func (in *injector) log(ev FaultEvent) {
	in.mu.Lock()
	in.events = append(in.events, ev)
	in.mu.Unlock()
}

func (in *injector) Events() []FaultEvent {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := append([]FaultEvent(nil), in.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// run plays the schedule, clock jumps as they come. Process faults run
// one after the other; chaos windows run on their own timeline when
// overlap is set (so a stalled response can outlive a crash), else in
// line with the process faults. It returns when ctx ends and every
// started fault has healed.
func (in *injector) run(ctx context.Context, start time.Time, plan []FaultEvent, overlap bool) {
	var wg sync.WaitGroup
	lanes := map[string][]FaultEvent{}
	for _, ev := range plan {
		lane := "process"
		switch ev.Kind {
		case FaultChaos:
			if overlap {
				lane = "net"
			}
		case FaultClockJump:
			lane = "clock"
		}
		lanes[lane] = append(lanes[lane], ev)
	}
	for lane, evs := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ev := range evs {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(start.Add(ev.At))):
				}
				if lane == "clock" {
					wg.Add(1)
					go func() { defer wg.Done(); in.clockJump(in.opCtx, ev, i) }()
					continue
				}
				in.apply(ctx, ev)
			}
		}()
	}
	wg.Wait()
}

func (in *injector) apply(ctx context.Context, ev FaultEvent) {
	if ev.Kind != FaultChaos {
		in.procMu.Lock()
		defer in.procMu.Unlock()
	}
	ev.Start = in.rec.Now()
	var err error
	if in.cluster != nil && ev.Kind != FaultChaos {
		err = in.applyCluster(ctx, &ev)
		ev.End = in.rec.Now()
		if err != nil {
			ev.Err = err.Error()
		}
		in.log(ev)
		return
	}
	switch ev.Kind {
	case FaultKill9:
		in.node.kill9()
		sleepCtx(ctx, ev.For) // the injected downtime
		err = in.node.start()
		ev.Detail = fmt.Sprintf("SIGKILL, down %v, restarted", ev.For.Round(time.Millisecond))
	case FaultRestart:
		err = in.node.stop(10 * time.Second)
		if err == nil {
			err = in.node.start()
		}
		ev.Detail = "SIGTERM (drain 1s), restarted"
	case FaultDiskFull:
		err = in.diskFull(ctx, &ev)
	case FaultChaos:
		in.proxy.SetChaos(chaosByName(ev.Mode))
		sleepCtx(ctx, ev.For) // the fault window
		in.proxy.SetChaos(Chaos{})
		ev.Detail = "proxy " + ev.Mode
	}
	if err != nil {
		ev.Err = err.Error()
	}
	ev.End = in.rec.Now()
	in.log(ev)
}

// applyCluster runs a process or network fault on one node of a cluster,
// or starts a node. A node that restarts is waited for until it has
// joined (as a balancer's health check would).
func (in *injector) applyCluster(ctx context.Context, ev *FaultEvent) error {
	c := in.cluster
	if ev.Kind == FaultJoin {
		cn, err := c.join()
		ev.Node = len(c.list()) - 1
		if cn != nil {
			ev.Detail = fmt.Sprintf("node %d (%s) joined and was added to the balancer", ev.Node, cn.api.Addr())
		}
		return err
	}
	cn := c.node(ev.Node)
	switch ev.Kind {
	case FaultKill9:
		cn.n.kill9()
		sleepCtx(ctx, ev.For) // the injected downtime
		ev.Detail = fmt.Sprintf("node %d: SIGKILL, down %v, restarted", ev.Node, ev.For.Round(time.Millisecond))
		return c.restartNode(cn)
	case FaultRestart:
		ev.Detail = fmt.Sprintf("node %d: SIGTERM (drain 1s), restarted", ev.Node)
		if err := cn.n.stop(10 * time.Second); err != nil {
			return err
		}
		return c.restartNode(cn)
	case FaultPartition:
		c.partition(cn, true)
		sleepCtx(ctx, ev.For) // the partition window
		c.partition(cn, false)
		gossip := "gossip up (not relayed)"
		if cn.relay != nil {
			gossip = "gossip cut both ways"
		}
		ev.Detail = fmt.Sprintf("node %d: API (clients, peers' forwards) and store traffic blackholed for %v; %s", ev.Node, ev.For.Round(time.Millisecond), gossip)
		return nil
	}
	return fmt.Errorf("soak: fault %s does not apply to a cluster", ev.Kind)
}

// diskFull stops the server's files from growing for a while. The
// server may refuse writes or die. When the window ends, a write must
// succeed again within diskFullRecovery; if it does not, that is
// recorded as a finding and the server is restarted (as an operator
// would).
func (in *injector) diskFull(ctx context.Context, ev *FaultEvent) error {
	restore, err := in.node.limitFiles(0)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.inDiskFull = true
	in.mu.Unlock()
	end := time.Now().Add(ev.For) // the fault window
	// Traffic alone may not try to grow a file in a short window (a run
	// under heavy load once saw no refused write): probe until the server
	// refuses one.
	in.probe(time.Until(end), false)
	sleepCtx(ctx, time.Until(end))
	restore()
	in.mu.Lock()
	in.inDiskFull = false
	in.mu.Unlock()
	window := ev.For.Round(time.Millisecond)
	if !in.node.running() {
		ev.Detail = fmt.Sprintf("files could not grow for %v; the server exited and was restarted", window)
		return in.node.start()
	}
	if took, ok := in.probeWrite(diskFullRecovery); ok {
		ev.Detail = fmt.Sprintf("files could not grow for %v; writes succeeded again %v after", window, took.Round(time.Millisecond))
		return nil
	}
	ev.Detail = fmt.Sprintf("files could not grow for %v; restarted the server (kill -9) to recover", window)
	ev.Finding = fmt.Sprintf("after the disk had room again, no write succeeded within %v (requests hung or failed) until the server was restarted", diskFullRecovery)
	in.node.kill9()
	return in.node.start()
}

// diskFullRecovery bounds how long writes may keep failing once a full
// disk has room again.
const diskFullRecovery = 5 * time.Second

// probeWrite commits a lock cycle on a probe key outside the checked
// layout, retrying until one succeeds or bound passes. A client has no
// event to wait on for "the server writes again": it can only try, so
// the attempts are paced and bounded in count and time.
func (in *injector) probeWrite(bound time.Duration) (time.Duration, bool) {
	return in.probe(bound, true)
}

// probe commits lock cycles on the probe key, paced, until one succeeds
// (succeed) or fails (!succeed), or bound passes; it reports how long that
// took and whether it happened.
func (in *injector) probe(bound time.Duration, succeed bool) (time.Duration, bool) {
	start := time.Now()
	key := in.tr.lay.Queue + "-probe"
	for i := 0; i < 100 && time.Since(start) < bound; i++ {
		ctx, cancel := context.WithTimeout(in.opCtx, 2*time.Second)
		sess, err := in.tr.cli.Acquire(ctx, api.AcquireRequest{Key: key, Owner: "soak-probe", TTLSeconds: 2, BlockSeconds: 1}, sdk.WithoutKeepAlive())
		if err == nil {
			err = sess.Release(ctx)
		}
		cancel()
		if (err == nil) == succeed {
			return time.Since(start), true
		}
		sleepCtx(in.opCtx, 100*time.Millisecond) // pacing between probes
	}
	return time.Since(start), false
}

// clockJump runs one zombie client against a hot key.
func (in *injector) clockJump(ctx context.Context, ev FaultEvent, i int) {
	ev.Start = in.rec.Now()
	key := in.tr.lay.Hot[i%len(in.tr.lay.Hot)]
	w := &worker{id: 4000 + i, rng: newRand(0, uint64(4000+i))}
	succ := &worker{id: 5000 + i, rng: newRand(0, uint64(5000+i))}
	in.tr.zombie(ctx, w, succ, key, ev.For)
	ev.End = in.rec.Now()
	ev.Detail = fmt.Sprintf("client paused %v holding a 1s lease on %s, then committed; a successor held the key meanwhile", ev.For, key)
	in.log(ev)
}

// onExitOf is told when node n's process exits; exits the harness did
// not cause are logged, and the node is restarted.
func (in *injector) onExitOf(n *node) func(bool, error, string) {
	return func(unexpected bool, err error, tail string) { in.onExit(n, unexpected, err, tail) }
}

func (in *injector) onExit(n *node, unexpected bool, err error, tail string) {
	if !unexpected {
		return
	}
	in.mu.Lock()
	disk := in.inDiskFull
	in.mu.Unlock()
	now := in.rec.Now()
	ev := FaultEvent{Phase: in.phase, Kind: FaultCrash, Start: now, End: now, Detail: fmt.Sprintf("exit: %v", err), Err: lastLines(tail, 3)}
	if disk {
		ev.Detail += " (during disk-full)"
		in.log(ev)
		return // diskFull restarts it when the window ends
	}
	go func() {
		in.procMu.Lock()
		defer in.procMu.Unlock()
		if !n.running() {
			if err := n.start(); err != nil {
				ev.Err += "; restart failed: " + err.Error()
			}
		}
		ev.End = in.rec.Now()
		in.log(ev)
	}()
}

// unexpectedExit reports a server exit the harness did not cause, outside
// disk-full windows.
func (ev FaultEvent) unexpectedExit() bool {
	return ev.Kind == FaultCrash && !strings.Contains(ev.Detail, "disk-full")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func chaosByName(name string) Chaos {
	for _, m := range chaosModes {
		if m.Name == name {
			return m
		}
	}
	return Chaos{}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
