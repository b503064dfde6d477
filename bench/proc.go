package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Servers under test run as child processes by default, so that what each
// spends is its own: server CPU per operation is the child's user+system
// time from /proc/PID/stat, read before and after a run, divided by the
// operations of the run. Client and servers still share the machine, so
// rates move with load from elsewhere; CPU per operation moves much less.

var (
	lockdBins = flag.String("lockd", "", "lockd binaries to measure, comma-separated [label=]path; each runs on mem and disk "+
		"(default: build ./cmd/lockd of this tree into the temp dir)")
	inProc     = flag.Bool("inproc", false, "run no-op, mem and disk in the bench process (no server CPU figures)")
	serverProf = flag.String("server-cpuprofile", "", "write a CPU profile of each lockd child over each measured run to PREFIX-SERVER-N.prof")
	serveNoop  = flag.Bool("serve-noop", false, "internal: serve the no-op ceiling on loopback, print its address, exit when stdin closes")
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// child is a server process.
type child struct {
	cmd     *exec.Cmd
	metrics string // host:port of its /metrics, "" if none
	pprof   string // host:port of its /debug/pprof, "" if none
}

var profiles atomic.Int64

// profile starts a CPU profile of the child over -d; the returned func
// waits for it and writes it to -server-cpuprofile's PREFIX-name-N.prof.
func (c *child) profile(name string) func() {
	path := fmt.Sprintf("%s-%s-%d.prof", *serverProf, strings.ReplaceAll(name, " ", "_"), profiles.Add(1))
	secs := max(1, int(duration.Seconds()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, secs))
		check(err)
		defer resp.Body.Close()
		f, err := os.Create(path)
		check(err)
		_, err = io.Copy(f, resp.Body)
		check(err)
		check(f.Close())
	}()
	return func() { <-done }
}

// cpu returns the process's user+system time and its minor page faults
// so far.
func (c *child) cpu() (time.Duration, int64) {
	d, faults, err := procCPU(c.cmd.Process.Pid)
	check(err)
	return d, faults
}

// procCPU reads utime+stime and minflt of pid from /proc/PID/stat. Minor
// faults are worth watching on this machine: touching a fresh page costs
// ~16 µs of CPU here (a VM), so a server that keeps returning memory to
// the OS and faulting it back pays for it in CPU.
func procCPU(pid int) (time.Duration, int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields after it start with the state (field 3).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("cpu of %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("cpu of %d: malformed stat", pid)
	}
	minflt, err0 := strconv.ParseInt(f[7], 10, 64) // field 10
	ut, err1 := strconv.ParseInt(f[11], 10, 64)    // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64)    // field 15
	if err0 != nil || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("cpu of %d: malformed stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, minflt, nil
}

// counters scrapes the child's disk commits and fsyncs and its
// multiplexed frames and writes from /metrics.
func (c *child) counters() counts {
	resp, err := http.Get("http://" + c.metrics + "/metrics")
	check(err)
	defer resp.Body.Close()
	var n counts
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "lockd_disk_commits_total":
			n.commits, _ = strconv.ParseInt(val, 10, 64)
		case "lockd_disk_fsyncs_total":
			n.syncs, _ = strconv.ParseInt(val, 10, 64)
		case "lockd_cluster_mux_frames_total":
			n.muxFrames, _ = strconv.ParseInt(val, 10, 64)
		case "lockd_cluster_mux_writes_total":
			n.muxWrites, _ = strconv.ParseInt(val, 10, 64)
		}
	}
	check(sc.Err())
	return n
}

// stop terminates the child and reaps it.
func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}

// startLockdProc runs a lockd binary on store and waits until it serves.
func startLockdProc(name, bin, storeURL string) *target {
	t, _ := startLockdNode(name, bin, storeURL, nil)
	return t
}

// startLockdNode runs a lockd binary on store over plain HTTP with further
// flags and environment, waits until it serves, and returns it with its
// cluster node id (empty when not clustered).
func startLockdNode(name, bin, storeURL string, env []string, extra ...string) (*target, string) {
	return startLockdChild(name, bin, storeURL, env, append([]string{"--disable-mtls"}, extra...)...)
}

// startLockdChild is startLockdNode without --disable-mtls: the caller's
// flags alone decide the security mode (see secFlags). Readiness does not
// depend on it, as the "lockd serving" log line and the metrics listener
// are plain in every mode.
func startLockdChild(name, bin, storeURL string, env []string, extra ...string) (*target, string) {
	metricsAddr := freePort()
	args := []string{"--listen", "127.0.0.1:0", "--store", storeURL,
		"--drain-grace", "0s", "--metrics-listen", metricsAddr, "--log-level", "info"}
	var pprofAddr string
	if *serverProf != "" {
		pprofAddr = freePort()
		args = append(args, "--pprof-listen", pprofAddr)
	}
	cmd := exec.Command(bin, append(args, extra...)...)
	// Admission control watches the host (load average, CPU), which other
	// work on the machine drives as much as the bench does: it would throttle
	// the run it is measuring. A binary without these settings ignores them.
	cmd.Env = append(append(os.Environ(), "LOCKD_QRF_DISABLED=true", "LOCKD_CONNGUARD_ENABLED=false"), env...)
	stderr, err := cmd.StderrPipe()
	check(err)
	check(cmd.Start())
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Message string `json:"message"`
				Listen  string `json:"listen"`
				NodeID  string `json:"node_id"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "lockd serving" {
				ready <- [2]string{line.Listen, line.NodeID}
			}
		}
	}()
	c := &child{cmd: cmd, metrics: metricsAddr, pprof: pprofAddr}
	var addr, id string
	select {
	case l := <-ready:
		addr, id = l[0], l[1]
	case <-time.After(60 * time.Second):
		c.stop()
		check(fmt.Errorf("%s (%s) did not start", name, bin))
	}
	t := &target{name: name, addr: addr, stop: c.stop, cpu: c.cpu}
	waitMetrics(c)
	if strings.HasPrefix(storeURL, "disk:") || slices.Contains(extra, "--cluster-listen") {
		t.counts = c.counters
	}
	if pprofAddr != "" {
		t.profile = func() func() { return c.profile(name) }
	}
	return t, id
}

// waitMetrics waits (bounded) until the child's metrics listener answers.
func waitMetrics(c *child) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + c.metrics + "/metrics")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			check(fmt.Errorf("metrics of pid %d: %w", c.cmd.Process.Pid, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNoopProc runs this binary as the no-op server.
func startNoopProc() *target {
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-serve-noop")
	stdin, err := cmd.StdinPipe()
	check(err)
	stdout, err := cmd.StdoutPipe()
	check(err)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	check(err)
	c := &child{cmd: cmd}
	return &target{name: "no-op", addr: strings.TrimSpace(line), cpu: c.cpu, stop: func() {
		stdin.Close()
		c.stop()
	}}
}

// runNoopServer is the -serve-noop child: it serves until stdin closes.
func runNoopServer() {
	t := startNoop()
	fmt.Println(t.addr)
	io.Copy(io.Discard, os.Stdin)
	t.stop()
}

// lockdBinary is one binary under test.
type lockdBinary struct{ label, path string }

// lockdBinaries parses -lockd, building this tree's cmd/lockd into tmp
// when it is empty.
func lockdBinaries(tmp string) []lockdBinary {
	if *lockdBins == "" {
		path := filepath.Join(tmp, "lockd")
		out, err := exec.Command("go", "build", "-o", path, "./cmd/lockd").CombinedOutput()
		if err != nil {
			check(fmt.Errorf("build ./cmd/lockd (run bench from the repository root, or pass -lockd): %w\n%s", err, out))
		}
		return []lockdBinary{{path: path}}
	}
	var bins []lockdBinary
	for _, s := range strings.Split(*lockdBins, ",") {
		label, path, ok := strings.Cut(s, "=")
		if !ok {
			label, path = "", s
		}
		bins = append(bins, lockdBinary{label: label, path: path})
	}
	return bins
}

// startProcTargets starts the no-op and, per lockd binary, a mem and a
// disk server; it returns the no-op, the mem and the disk targets.
func startProcTargets(tmp string) (noop *target, mems, disks []*target) {
	noop = startNoopProc()
	for i, b := range lockdBinaries(tmp) {
		suffix := ""
		if b.label != "" {
			suffix = " " + b.label
		}
		mems = append(mems, startLockdProc("mem"+suffix, b.path, "mem://"))
		disks = append(disks, startLockdProc("disk"+suffix, b.path, fmt.Sprintf("disk://%s/disk-%d", tmp, i)))
	}
	return noop, mems, disks
}
