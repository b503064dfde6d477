// Command soak runs lockd's soak and robustness harness: traffic, faults
// and invariant checks, with a summary on stdout and report.json,
// history.jsonl and report.html in the output directory.
//
//	go run ./soak/cmd/soak -profile ci              # starts lockd itself (mem, then disk)
//	go run ./soak/cmd/soak -profile ci -seed 42     # replays seed 42's schedule
//	go run ./soak/cmd/soak -endpoints http://127.0.0.1:9341 -duration 5m
//
// It exits 0 when every invariant held, 1 when one did not, 2 when the
// harness itself failed. See docs/SOAK.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lockdhq/lockd/soak"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	profile := fs.String("profile", "ci", "profile: "+strings.Join(soak.Profiles(), ", "))
	seed := fs.Uint64("seed", 0, "seed of the operation mix and the fault schedule (0: a fresh one, printed)")
	endpoints := fs.String("endpoints", "", "comma-separated endpoints of a running deployment (default: start lockd here)")
	bundle := fs.String("bundle", "", "client bundle (PEM) for https endpoints")
	proxy := fs.Bool("proxy", false, "put the chaos proxy in front of a single -endpoints server")
	ns := fs.String("namespace", "", "namespace of the soak's keys and queue (default soak)")
	phases := fs.String("phases", "", "comma-separated subset of the profile's phases (e.g. disk)")
	duration := fs.Duration("duration", 0, "duration of every phase (default: the profile's)")
	workers := fs.Int("workers", 0, "traffic goroutines")
	consumers := fs.Int("consumers", -1, "queue consumers (-1: the profile's)")
	keys := fs.Int("keys", 0, "counter keys of lock cycles (key-space size)")
	hot := fs.Int("hot-keys", 0, "hot keys under blocking contention")
	groups := fs.Int("txn-groups", 0, "transaction groups")
	txnKeys := fs.Int("txn-keys", 0, "keys per transaction")
	payload := fs.Int("payload", -1, "padding bytes per state document and queue message (-1: the profile's)")
	rate := fs.Float64("rate", -1, "operation starts per second, all workers together (0: unlimited; -1: the profile's)")
	maxOps := fs.Int64("max-ops", 0, "upper bound on operations per phase")
	mix := fs.String("mix", "", "operation weights, e.g. cycle=40,hot=10,txn=10,read=25,query=3,enqueue=12")
	ttl := fs.Duration("ttl", 0, "lease TTL of the workloads (whole seconds)")
	checkTimeout := fs.Duration("check-timeout", 0, "bound of the linearizability search per key (default: the profile's)")
	kill9 := fs.Int("kill9", -1, "kill -9 faults per phase that owns a durable server (-1: the profile's)")
	restarts := fs.Int("restarts", -1, "graceful restarts per phase that owns a durable server (-1: the profile's)")
	diskFull := fs.Int("disk-full", -1, "disk-full windows per phase that owns a durable server (-1: the profile's)")
	chaos := fs.Int("chaos", -1, "chaos-proxy windows per phase (-1: the profile's)")
	overlap := fs.Bool("overlap", false, "let chaos windows overlap kill -9, restarts and disk full (the nightly profile does)")
	partition := fs.Int("partition", -1, "network partitions of one node per cluster phase (-1: the profile's)")
	join := fs.Int("join", -1, "nodes joining during the load per cluster phase (-1: the profile's)")
	clock := fs.Int("clock-jumps", -1, "client clock jumps (pauses past lease expiry) per phase (-1: the profile's)")
	out := fs.String("out", "", "directory for reports and server logs (default: a new temp dir)")
	lockd := fs.String("lockd", "", "lockd binary to start (default: go build ./cmd/lockd)")
	unsafe := fs.String("unsafe", "", "TEST ONLY: LOCKD_TEST_UNSAFE for started servers, to prove the checkers fail (the built server gets -tags lockdunsafe; a -lockd binary must have been built with it)")
	asJSON := fs.Bool("json", false, "print the JSON report on stdout instead of the tables")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	p, err := soak.NewProfile(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano()%1_000_000_000) + 1
	}
	p.Seed = *seed
	p.Replay = replayCommand(fs, *seed)
	if err := apply(p, overrides{endpoints: *endpoints, bundle: *bundle, proxy: *proxy, ns: *ns, phases: *phases,
		duration: *duration, workers: *workers, consumers: *consumers, keys: *keys, hot: *hot, groups: *groups,
		txnKeys: *txnKeys, payload: *payload, rate: *rate, maxOps: *maxOps, mix: *mix, ttl: *ttl, checkTimeout: *checkTimeout,
		faults: [7]int{*kill9, *restarts, *diskFull, *chaos, *clock, *partition, *join}, overlap: *overlap, lockd: *lockd, unsafe: *unsafe}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dir := *out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lockd-soak-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := soak.Run(ctx, p, dir, os.Stderr)
	if res == nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	paths, werr := res.WriteFiles(dir)
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
	} else {
		res.WriteSummary(os.Stdout)
	}
	if werr != nil {
		fmt.Fprintln(os.Stderr, "soak: write reports:", werr)
		return 2
	}
	fmt.Fprintf(os.Stderr, "soak: reports: %s\n", strings.Join(paths, " "))
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: interrupted:", err)
		return 2
	}
	if !res.Passed {
		return 1
	}
	return 0
}

type overrides struct {
	endpoints, bundle, ns, phases, mix, lockd, unsafe string
	proxy, overlap                                    bool
	duration, ttl, checkTimeout                       time.Duration
	workers, consumers, keys, hot, groups, txnKeys    int
	payload                                           int
	rate                                              float64
	maxOps                                            int64
	faults                                            [7]int // kill9, restarts, disk-full, chaos, clock jumps, partitions, joins
}

func apply(p *soak.Profile, o overrides) error {
	if o.endpoints != "" {
		for _, e := range strings.Split(o.endpoints, ",") {
			p.Endpoints = append(p.Endpoints, strings.TrimSpace(e))
		}
		d := p.Phases[len(p.Phases)-1]
		p.Phases = []soak.Phase{{Name: "external", Duration: d.Duration, Faults: soak.FaultPlan{Chaos: d.Faults.Chaos, ClockJumps: d.Faults.ClockJumps}}}
	}
	p.Bundle, p.Proxy, p.Lockd, p.Unsafe = o.bundle, o.proxy, o.lockd, o.unsafe
	if o.ns != "" {
		p.Namespace = o.ns
	}
	if o.phases != "" && len(p.Endpoints) == 0 {
		var keep []soak.Phase
		for _, ph := range p.Phases {
			if strings.Contains(","+o.phases+",", ","+ph.Name+",") {
				keep = append(keep, ph)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("soak: -phases %q selects none of the profile's phases", o.phases)
		}
		p.Phases = keep
	}
	for i := range p.Phases {
		ph := &p.Phases[i]
		if o.duration > 0 {
			ph.Duration = o.duration
		}
		if o.overlap {
			ph.Faults.Overlap = true
		}
		for j, n := range o.faults {
			if n >= 0 {
				*[]*int{&ph.Faults.Kill9, &ph.Faults.Restart, &ph.Faults.DiskFull, &ph.Faults.Chaos, &ph.Faults.ClockJumps, &ph.Faults.Partition, &ph.Faults.Join}[j] = n
			}
		}
	}
	setPos(&p.Workers, o.workers)
	setPos(&p.Keys, o.keys)
	setPos(&p.HotKeys, o.hot)
	setPos(&p.TxnGroups, o.groups)
	setPos(&p.TxnKeys, o.txnKeys)
	if o.txnKeys > 0 {
		for i := range p.Phases {
			p.Phases[i].TxnKeys = o.txnKeys // over a phase's own (cluster phases: 1)
		}
	}
	if o.consumers >= 0 {
		p.Consumers = o.consumers
	}
	if o.payload >= 0 {
		p.PayloadBytes = o.payload
	}
	if o.rate >= 0 {
		p.Rate = o.rate
	}
	if o.maxOps > 0 {
		p.MaxOps = o.maxOps
	}
	if o.ttl > 0 {
		p.TTL = o.ttl
	}
	if o.checkTimeout > 0 {
		p.CheckTimeout = o.checkTimeout
	}
	if o.mix != "" {
		m, err := soak.ParseMix(o.mix)
		if err != nil {
			return err
		}
		p.Mix = m
	}
	return p.Validate()
}

func setPos(dst *int, v int) {
	if v > 0 {
		*dst = v
	}
}

// replayCommand is this command line with the seed fixed and the output
// directory left out.
func replayCommand(fs *flag.FlagSet, seed uint64) string {
	args := []string{"go run ./soak/cmd/soak"}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "seed" && f.Name != "out" {
			args = append(args, fmt.Sprintf("-%s=%s", f.Name, f.Value.String()))
		}
	})
	return strings.Join(append(args, fmt.Sprintf("-seed=%d", seed)), " ")
}
