package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/lockdhq/lockd/store/disk"
)

const keySpace = 1024

// keyFor gives each worker its own slice of the key space, so cycles never
// contend (contention has its own scenario).
func keyFor(w, n int, i int64) string {
	per := keySpace / n
	return "bench/k" + strconv.Itoa(w*per+int(i%int64(per)))
}

func header(title string, cols ...string) {
	fmt.Printf("## %s\n\n| %s |\n|%s\n", title, strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

// metered is a measured run and what the server spent on it.
type metered struct {
	result
	usage
}

// cpuPerOp is the server's CPU per operation in µs (0 when unknown).
func (m metered) cpuPerOp() float64 {
	if m.ops == 0 {
		return 0
	}
	return float64(m.cpu.Nanoseconds()) / 1e3 / float64(m.ops)
}

// measure runs op from n workers against t and meters the server.
func measure(t *target, n int, op func(c *client, w int, i int64) error) metered {
	c := newClient(t, n)
	m := startMeter(t)
	r := run(n, func(w int, k int64) error { return op(c, w, k) })
	return metered{r, m.done()}
}

// compare measures the no-op ceiling (when it is a target) and each lockd
// target in -rounds interleaved rounds, so that load from elsewhere on the
// machine falls on all of them alike, and prints one row per target: the
// median round's rate and latencies, the median of the per-round ratios to
// the no-op, the median server CPU per cycle and its ratio to the no-op's,
// and commits and fsyncs per request over all rounds (disk).
func compare(noop *target, targets []*target, n, opsPerCycle int, op func(c *client, w int, i int64) error) {
	all := targets
	if noop != nil {
		all = append([]*target{noop}, targets...)
	}
	res := interleave(*cmpRounds, len(all), func(i int) metered { return measure(all[i], n, op) })
	for i, t := range all {
		m := medianRound(res[i])
		line := fmt.Sprintf("| %s | %d | %.0f | %s | %s |", t.name, n, m.rate(), ms(m.p50), ms(m.p99))
		// Ratios are medians of per-round ratios, not ratios of the
		// median rounds (as runTLS does): the no-op ceiling and a lockd
		// server measured back to back share the load of that moment, so
		// their ratio moves less between rounds than either figure does.
		ratio := func(f func(metered) float64) float64 {
			ratios := make([]float64, len(res[i]))
			for r := range res[i] {
				ratios[r] = f(res[i][r]) / f(res[0][r])
			}
			return mid(ratios)
		}
		if noop != nil && i > 0 {
			line += fmt.Sprintf(" %.0f%% |", 100*ratio(func(m metered) float64 { return m.rate() }))
		} else {
			line += " — |"
		}
		cpus := make([]float64, len(res[i]))
		for r, m := range res[i] {
			cpus[r] = m.cpuPerOp()
		}
		if t.cpu != nil {
			line += fmt.Sprintf(" %.0f |", mid(cpus))
		} else {
			line += " — |"
		}
		if noop != nil && noop.cpu != nil && t.cpu != nil && i > 0 {
			line += fmt.Sprintf(" %.2f× |", ratio(metered.cpuPerOp))
		} else {
			line += " — |"
		}
		var ops, faults int64
		var sum counts
		var err error
		for _, r := range res[i] {
			ops += r.ops
			faults += r.faults
			sum = sum.plus(r.counts)
			if r.err != nil {
				err = r.err
			}
		}
		reqs := float64(ops * int64(opsPerCycle))
		line += fmt.Sprintf(" %s | %s |", perReq(t, sum.commits, reqs), perReq(t, sum.syncs, reqs))
		if t.cpu != nil && ops > 0 {
			line += fmt.Sprintf(" %.2f |", float64(faults)/float64(ops))
		} else {
			line += " — |"
		}
		if err != nil {
			line += " error: " + err.Error()
		}
		fmt.Println(line)
	}
}

// compareCols are the columns compare prints; unit names what one
// operation is.
func compareCols(unit string) []string {
	return []string{"server", "workers", unit + "/s", "p50 ms", "p99 ms", "of no-op",
		"server CPU µs/" + unit, "CPU of no-op", "commits/request", "fsyncs/request", "page faults/" + unit}
}

func cycle(c *client, w, n int, i int64) error {
	key := keyFor(w, n, i)
	h, err := c.acquire(key, "w"+strconv.Itoa(w), 0)
	if err != nil {
		return err
	}
	if err := c.update(h, key); err != nil {
		return err
	}
	return c.release(h, key)
}

// warmUp runs -warmup of 64-worker cycles against each target, reporting
// what the server wrote, so that measured runs see a server in its steady
// state (grown memtables, heap) rather than one just started.
func warmUp(ts []*target) {
	if *warmup <= 0 {
		return
	}
	saved := *duration
	*duration = *warmup
	defer func() { *duration = saved }()
	for _, t := range ts {
		r := measure(t, 64, func(c *client, w int, i int64) error { return cycle(c, w, 64, i) })
		check(r.err)
		fmt.Printf("warm-up of %s: %d cycles, %.0f µs server CPU per cycle, %.2f page faults per cycle\n",
			t.name, r.ops, r.cpuPerOp(), float64(r.faults)/float64(max(r.ops, 1)))
	}
	fmt.Println()
}

func runCycles(noop *target, targets ...*target) {
	header("acquire → update (256 B) → release cycles, 1024 keys", compareCols("cycle")...)
	for _, n := range workerCounts() {
		compare(noop, targets, n, 3, func(c *client, w int, i int64) error { return cycle(c, w, n, i) })
	}
	fmt.Println()
}

func runAcqRel(noop *target, targets ...*target) {
	header("acquire → release, 1024 keys", compareCols("cycle")...)
	op := func(n int) func(c *client, w int, i int64) error {
		return func(c *client, w int, i int64) error {
			key := keyFor(w, n, i)
			h, err := c.acquire(key, "w", 0)
			if err != nil {
				return err
			}
			return c.release(h, key)
		}
	}
	for _, n := range workerCounts() {
		compare(noop, targets, n, 2, op(n))
	}
	fmt.Println()
}

func runReads(noop *target, targets ...*target) {
	header("public reads of committed 256 B states, 1024 keys", compareCols("read")...)
	for _, t := range targets { // seed every key
		c := newClient(t, 1)
		for k := 0; k < keySpace; k++ {
			check(cycle(c, 0, 1, int64(k)))
		}
	}
	for _, n := range workerCounts() {
		op := func(c *client, w int, i int64) error { return c.publicGet(keyFor(w, n, i)) }
		compare(noop, targets, n, 1, op)
	}
	fmt.Println()
}

// runHot has 64 workers block on one key; every acquisition is a hand-off.
func runHot(targets ...*target) {
	header("64 workers blocking on one hot key (acquire → release)", "server", "hand-offs/s", "p50 ms", "p99 ms", "min/worker", "max/worker", "server CPU µs/hand-off")
	for _, t := range targets {
		c := newClient(t, 64)
		m := startMeter(t)
		r := run(64, func(w int, i int64) error {
			h, err := c.acquire("bench/hot", "w"+strconv.Itoa(w), 60)
			if err != nil {
				return err
			}
			return c.release(h, "bench/hot")
		})
		lo, hi := r.perW[0], r.perW[0]
		for _, v := range r.perW {
			lo, hi = min(lo, v), max(hi, v)
		}
		u := m.done()
		line := fmt.Sprintf("| %s | %.0f | %s | %s | %d | %d | %s |", t.name, r.rate(), ms(r.p50), ms(r.p99), lo, hi, perOp(u.cpu, float64(r.ops)))
		if r.err != nil {
			line += " error: " + r.err.Error()
		}
		fmt.Println(line)
	}
	fmt.Println()
}

// runCold touches many distinct keys once and reports how memory follows
// the hot set once the actors' idle timeout has passed.
func runCold(tmp string) {
	header(fmt.Sprintf("%d distinct keys touched once (disk store, 2s actor idle timeout)", *coldKeys), "phase", "live actors", "heap MiB", "RSS MiB")
	ds, err := disk.Open(tmp+"/cold", disk.Options{})
	check(err)
	t := startLockd("disk", ds, 2*time.Second)
	defer t.stop()
	report := func(phase string) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("| %s | %d | %.1f | %.1f |\n", phase, t.srv.Keys().Live(), float64(ms.HeapInuse)/(1<<20), rssMiB())
	}
	report("before")
	c := newClient(t, 64)
	var next int64
	saved, savedD := *maxOps, *duration
	*maxOps, *duration = int64(*coldKeys), 10*time.Minute // bounded by the key count
	r := run(64, func(w int, i int64) error {
		k := fmt.Sprintf("cold/%d", atomicInc(&next))
		h, err := c.acquire(k, "w", 0)
		if err != nil {
			return err
		}
		return c.release(h, k)
	})
	*maxOps, *duration = saved, savedD
	report(fmt.Sprintf("after %d keys", r.ops))
	deadline := time.Now().Add(30 * time.Second)
	for t.srv.Keys().Live() > int64(*coldKeys)/100 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	report("after idle timeout")
	if *memProf != "" {
		f, err := os.Create(*memProf)
		check(err)
		runtime.GC()
		check(pprof.WriteHeapProfile(f))
		f.Close()
	}
	fmt.Println()
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
