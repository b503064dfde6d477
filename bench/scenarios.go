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

// measure runs op on t and prints a row; fsyncs per op for disk.
func measure(t *target, n int, ceiling float64, opsPerCycle int, op func(c *client, w int, i int64) error) result {
	c := newClient(t, n)
	var before int64
	if t.syncs != nil {
		before = t.syncs()
	}
	r := run(n, func(w int, i int64) error { return op(c, w, i) })
	line := fmt.Sprintf("| %s | %d | %.0f | %s | %s |", t.name, n, r.rate(), ms(r.p50), ms(r.p99))
	if ceiling > 0 {
		line += fmt.Sprintf(" %.0f%% |", 100*r.rate()/ceiling)
	} else {
		line += " — |"
	}
	if t.syncs != nil && r.ops > 0 {
		line += fmt.Sprintf(" %.2f |", float64(t.syncs()-before)/float64(r.ops*int64(opsPerCycle)))
	} else {
		line += " — |"
	}
	if r.err != nil {
		line += " error: " + r.err.Error()
	}
	fmt.Println(line)
	return r
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
		ceil := ceiling(noop, n, 3, func(c *client, w int, i int64) error { return cycle(c, w, n, i) })
		for _, t := range targets {
			measure(t, n, ceil, 3, func(c *client, w int, i int64) error { return cycle(c, w, n, i) })
		}
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
		ceil := ceiling(noop, n, 2, op(n))
		for _, t := range targets {
			measure(t, n, ceil, 2, op(n))
		}
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
		ceil := ceiling(noop, n, 1, op)
		for _, t := range targets {
			measure(t, n, ceil, 1, op)
		}
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

// ceiling measures the no-op server (0 when it is not a target).
func ceiling(noop *target, n, opsPerCycle int, op func(c *client, w int, i int64) error) float64 {
	if noop == nil {
		return 0
	}
	return measure(noop, n, 0, opsPerCycle, op).rate()
}
