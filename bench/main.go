// Command bench drives lockd over real HTTP on loopback and prints a
// Markdown table of throughput and latency, each as a ratio to a no-op
// fasthttp server that answers the same endpoints with canned responses
// (the ceiling of this client on this machine).
//
//	go run ./bench                        # all scenarios, 5s each
//	go run ./bench -d 10s -only cycle,hot
//
// Every load loop is bounded by -d and by -max operations; all traffic
// goes to 127.0.0.1.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

var (
	duration  = flag.Duration("d", 5*time.Second, "duration of each measured run")
	maxOps    = flag.Int64("max", 5_000_000, "upper bound on operations per run")
	only      = flag.String("only", "", "comma-separated scenarios (cycle,acqrel,read,hot,txn,attach,cold,queue,query,tls,forward,cluster3)")
	coldKeys  = flag.Int("cold-keys", 100_000, "distinct keys in the cold scenario")
	cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProf   = flag.String("memprofile", "", "write a heap profile after the cold scenario (without cold: an allocation profile of the run)")
	cmpRounds = flag.Int("rounds", 1, "interleaved rounds of the cycle, acqrel, read and attach scenarios (rows show the median)")
	targets   = flag.String("targets", "no-op,mem,disk", "servers the cycle, acqrel and read scenarios run against")
	warmup    = flag.Duration("warmup", 0, "run 64-worker lock cycles against every lockd server for this long before measuring "+
		"(pebble's memtables grow from 256 KiB to 16 MiB over the first ~32 MiB written, each on fresh memory)")
)

// target is a server under test.
type target struct {
	name   string
	addr   string
	cpu    func() (time.Duration, int64) // server CPU and minor page faults so far (child processes)
	counts func() counts                 // pebble commits and fsyncs so far (disk)
	// profile starts a CPU profile of the server over -d (with
	// -server-cpuprofile); the func it returns waits for it.
	profile func() func()
	stop    func()
	srv     *server.Server // servers in this process only
}

func main() {
	flag.Parse()
	if *serveNoop {
		runNoopServer()
		return
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	tmp, err := os.MkdirTemp("", "lockd-bench-")
	check(err)
	defer os.RemoveAll(tmp)

	var noop *target
	var mems, disks []*target
	if *inProc {
		noop, mems, disks = startInProcTargets(tmp)
	} else {
		noop, mems, disks = startProcTargets(tmp)
	}
	defer func() {
		for _, t := range append(append([]*target{noop}, mems...), disks...) {
			t.stop()
		}
	}()

	where := "servers in child processes; server CPU from /proc/PID/stat"
	if *inProc {
		where = "servers in the bench process"
	}
	fmt.Printf("# lockd bench %s, GOMAXPROCS=%d, %v per run, %s\n\n", time.Now().Format(time.RFC3339), gomaxprocs(), *duration, where)
	want := func(s string) bool { return *only == "" || strings.Contains(","+*only+",", ","+s+",") }
	sel := selectTargets(noop, append(mems, disks...)...)
	warmUp(append(mems, disks...))
	if want("cycle") {
		runCycles(sel[0], sel[1:]...)
	}
	if want("acqrel") {
		runAcqRel(sel[0], sel[1:]...)
	}
	if want("read") {
		runReads(sel[0], sel[1:]...)
	}
	if want("hot") {
		runHot(append(mems, disks...)...)
	}
	if want("txn") {
		for _, d := range disks {
			runTxn(d)
		}
	}
	if want("attach") {
		for _, d := range disks {
			runAttach(d, tmp)
		}
	}
	if want("query") {
		runQuery(tmp)
	}
	if want("queue") {
		runQueue(noop, sel[1:]...)
	}
	if want("cold") {
		runCold(tmp)
	}
	if want("tls") {
		runTLS(tmp)
	}
	if want("forward") {
		runForward(lockdBinaryForCluster(tmp))
	}
	if want("cluster3") {
		runCluster3(lockdBinaryForCluster(tmp), tmp)
	}
	if *memProf != "" && !want("cold") {
		f, err := os.Create(*memProf)
		check(err)
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		f.Close()
	}
}

// startInProcTargets starts the no-op, mem and disk servers in this
// process (-inproc).
func startInProcTargets(tmp string) (noop *target, mems, disks []*target) {
	noop = startNoop()
	memT := startLockd("mem", mem.New(), 30*time.Second)
	ds, err := disk.Open(tmp+"/disk", disk.Options{})
	check(err)
	diskT := startLockd("disk", ds, 30*time.Second)
	diskT.counts = func() counts { return counts{commits: ds.Commits(), syncs: ds.Syncs()} }
	return noop, []*target{memT}, []*target{diskT}
}

func startLockd(name string, st store.Store, idle time.Duration) *target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := server.StartOn(ln, st, server.Config{ActorIdle: idle})
	return &target{name: name, addr: ln.Addr().String(), srv: srv, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	}}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// selectTargets returns the ceiling (nil when -targets omits the no-op)
// followed by the lockd servers -targets names ("mem" selects every mem
// server, "mem new" only the one of the binary labelled new).
func selectTargets(noop *target, ts ...*target) []*target {
	on := func(name string) bool {
		store, _, _ := strings.Cut(name, " ")
		return strings.Contains(","+*targets+",", ","+name+",") || strings.Contains(","+*targets+",", ","+store+",")
	}
	out := []*target{nil}
	if on("no-op") {
		out[0] = noop
	}
	for _, t := range ts {
		if on(t.name) {
			out = append(out, t)
		}
	}
	return out
}
