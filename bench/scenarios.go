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

// compare measures the no-op ceiling (when it is a target) and each lockd
// target in -rounds interleaved rounds, so that load from elsewhere on the
// machine falls on all of them alike, and prints one row per target: the
// median round's rate and latencies, the median of the per-round ratios to
// the no-op, and fsyncs per request over all rounds (disk).
func compare(noop *target, targets []*target, n, opsPerCycle int, op func(c *client, w int, i int64) error) {
	all := targets
	if noop != nil {
		all = append([]*target{noop}, targets...)
	}
	syncs := make([]int64, len(all))
	res := interleave(*cmpRounds, len(all), func(i int) result {
		t := all[i]
		c := newClient(t, n)
		var before int64
		if t.syncs != nil {
			before = t.syncs()
		}
		r := run(n, func(w int, k int64) error { return op(c, w, k) })
		if t.syncs != nil {
			syncs[i] += t.syncs() - before
		}
		return r
	})
	for i, t := range all {
		m := medianRound(res[i])
		line := fmt.Sprintf("| %s | %d | %.0f | %s | %s |", t.name, n, m.rate(), ms(m.p50), ms(m.p99))
		if noop != nil && i > 0 {
			// The median of per-round ratios, not the ratio of the median
			// rounds (as runTLS does): the no-op ceiling and a lockd
			// server measured back to back share the load of that
			// moment, so their ratio moves less between rounds than
			// either rate does.
			ratios := make([]float64, len(res[i]))
			for r := range res[i] {
				ratios[r] = res[i][r].rate() / res[0][r].rate()
			}
			line += fmt.Sprintf(" %.0f%% |", 100*mid(ratios))
		} else {
			line += " — |"
		}
		var ops int64
		var err error
		for _, r := range res[i] {
			ops += r.ops
			if r.err != nil {
				err = r.err
			}
		}
		if t.syncs != nil && ops > 0 {
			line += fmt.Sprintf(" %.2f |", float64(syncs[i])/float64(ops*int64(opsPerCycle)))
		} else {
			line += " — |"
		}
		if err != nil {
			line += " error: " + err.Error()
		}
		fmt.Println(line)
	}
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

func runCycles(noop *target, targets ...*target) {
	header("acquire → update (256 B) → release cycles, 1024 keys", "server", "workers", "cycles/s", "p50 ms", "p99 ms", "of no-op", "fsyncs/request")
	for _, n := range []int{8, 64} {
		compare(noop, targets, n, 3, func(c *client, w int, i int64) error { return cycle(c, w, n, i) })
	}
	fmt.Println()
}

func runAcqRel(noop *target, targets ...*target) {
	header("acquire → release, 1024 keys", "server", "workers", "cycles/s", "p50 ms", "p99 ms", "of no-op", "fsyncs/request")
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
	for _, n := range []int{8, 64} {
		compare(noop, targets, n, 2, op(n))
	}
	fmt.Println()
}

func runReads(noop *target, targets ...*target) {
	header("public reads of committed 256 B states, 1024 keys", "server", "workers", "reads/s", "p50 ms", "p99 ms", "of no-op", "fsyncs/request")
	for _, t := range targets { // seed every key
		c := newClient(t, 1)
		for k := 0; k < keySpace; k++ {
			check(cycle(c, 0, 1, int64(k)))
		}
	}
	for _, n := range []int{8, 64} {
		op := func(c *client, w int, i int64) error { return c.publicGet(keyFor(w, n, i)) }
		compare(noop, targets, n, 1, op)
	}
	fmt.Println()
}

// runHot has 64 workers block on one key; every acquisition is a hand-off.
func runHot(targets ...*target) {
	header("64 workers blocking on one hot key (acquire → release)", "server", "hand-offs/s", "p50 ms", "p99 ms", "min/worker", "max/worker")
	for _, t := range targets {
		c := newClient(t, 64)
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
		line := fmt.Sprintf("| %s | %.0f | %s | %s | %d | %d |", t.name, r.rate(), ms(r.p50), ms(r.p99), lo, hi)
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
