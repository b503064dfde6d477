package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/sdk/api"
)

// Cluster scenarios: what forwarding costs (the same lock cycles sent to
// one node, on keys it owns and on keys another node owns), and how a
// 3-node cluster on one object store compares with one node on it.

// node is a lockd child that is a cluster member.
type node struct {
	*target
	id string
}

// startCluster starts n nodes of bin on storeURL joined into one cluster
// (the first is a seed of everyone) and waits until each sees all.
func startCluster(name, bin, storeURL string, env []string, n int) []*node {
	var nodes []*node
	for i := range n {
		// Admission control off: the machine's load (other processes)
		// must not throttle what is measured.
		extra := []string{"--cluster-listen", "127.0.0.1:0", "--qrf-disabled"}
		if i > 0 {
			extra = append(extra, "--join", "http://"+nodes[0].addr)
		}
		t, id := startLockdNode(fmt.Sprintf("%s-%d", name, i), bin, storeURL, env, extra...)
		nodes = append(nodes, &node{target: t, id: id})
	}
	for _, nd := range nodes {
		waitMembers(nd, n)
	}
	return nodes
}

// waitMembers polls a node (bounded: 30 s) until it is ready and sees want
// alive members.
func waitMembers(nd *node, want int) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + nd.addr + "/v1/cluster/members")
		if err == nil {
			var out struct {
				Ready   bool `json:"ready"`
				Members []struct {
					State string `json:"state"`
				} `json:"members"`
			}
			derr := jsonDecode(resp, &out)
			alive := 0
			for _, m := range out.Members {
				if m.State == "alive" {
					alive++
				}
			}
			if derr == nil && out.Ready && alive == want {
				return
			}
		}
		if time.Now().After(deadline) {
			check(fmt.Errorf("cluster node %s did not see %d members", nd.name, want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sumCPU is a target whose CPU is the sum of the nodes' (and the
// store's, when given) over a run.
func sumCPU(name, addr string, nodes []*node, extra ...func() (time.Duration, int64)) *target {
	fns := extra
	for _, nd := range nodes {
		fns = append(fns, nd.cpu)
	}
	var profs []func() func()
	for _, nd := range nodes {
		if nd.profile != nil {
			profs = append(profs, nd.profile)
		}
	}
	var profile func() func()
	if len(profs) > 0 {
		profile = func() func() {
			var waits []func()
			for _, p := range profs {
				waits = append(waits, p())
			}
			return func() {
				for _, w := range waits {
					w()
				}
			}
		}
	}
	var sum func() counts
	if len(nodes) > 0 && nodes[0].counts != nil {
		sum = func() counts {
			var c counts
			for _, nd := range nodes {
				c = c.plus(nd.counts())
			}
			return c
		}
	}
	return &target{name: name, addr: addr, stop: func() {}, profile: profile, counts: sum, cpu: func() (time.Duration, int64) {
		var d time.Duration
		var f int64
		for _, fn := range fns {
			a, b := fn()
			d, f = d+a, f+b
		}
		return d, f
	}}
}

// ownedKeys finds count keys that the node at addr serves itself (local)
// and count that it forwards to another node, by asking it to describe
// candidates and reading X-Lockd-Served-By.
func ownedKeys(addr, selfID string, count int) (local, forwarded []string) {
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 50*count && (len(local) < count || len(forwarded) < count); i++ {
		key := "bench/c" + strconv.Itoa(i)
		resp, err := hc.Get("http://" + addr + "/v1/describe?key=" + key)
		check(err)
		resp.Body.Close()
		if by := resp.Header.Get(api.HeaderServedBy); by == selfID {
			if len(local) < count {
				local = append(local, key)
			}
		} else if len(forwarded) < count {
			forwarded = append(forwarded, key)
		}
	}
	if len(local) < count || len(forwarded) < count {
		check(fmt.Errorf("found %d local and %d forwarded keys, want %d each", len(local), len(forwarded), count))
	}
	return local, forwarded
}

// keyOf gives each worker its own slice of keys.
func keyOf(keys []string, w, n int, i int64) string {
	per := len(keys) / n
	return keys[w*per+int(i%int64(per))]
}

func cycleOn(c *client, key, owner string) error {
	h, err := c.acquire(key, owner, 0)
	if err != nil {
		return err
	}
	if err := c.update(h, key); err != nil {
		return err
	}
	return c.release(h, key)
}

// runForward: two nodes on mem:// (no store cost, so forwarding is all
// that differs); every request goes to node A, on keys A owns (local)
// or keys B owns (forwarded A → B over loopback). Server CPU is both
// processes'.
func runForward(bin string) {
	nodes := startCluster("fwd", bin, "mem://", nil, 2)
	defer func() {
		for _, nd := range nodes {
			nd.stop()
		}
	}()
	a := nodes[0]
	local, fwd := ownedKeys(a.addr, a.id, keySpace/2)
	header("forwarded vs local lock cycles (acquire → update 256 B → release), 2 nodes on mem://, client on node A",
		"keys", "workers", "cycles/s", "p50 ms", "p99 ms", "of local", "server CPU µs/cycle (both nodes)", "frames per mux write")
	for _, n := range workerCounts() {
		classes := []struct {
			name string
			keys []string
		}{{"local (A owns)", local}, {"forwarded (B owns)", fwd}}
		res := interleave(*cmpRounds, len(classes), func(i int) metered {
			t := sumCPU("fwd", a.addr, nodes)
			return measure(t, n, func(c *client, w int, k int64) error {
				return cycleOn(c, keyOf(classes[i].keys, w, n, k), "w"+strconv.Itoa(w))
			})
		})
		for i, cl := range classes {
			m := medianRound(res[i])
			cpus := make([]float64, len(res[i]))
			ratios := make([]float64, len(res[i]))
			for r := range res[i] {
				cpus[r] = res[i][r].cpuPerOp()
				ratios[r] = res[i][r].rate() / res[0][r].rate()
			}
			var sum counts
			for _, r := range res[i] {
				sum = sum.plus(r.counts)
			}
			perWrite := "—"
			if sum.muxWrites > 0 {
				perWrite = fmt.Sprintf("%.2f", float64(sum.muxFrames)/float64(sum.muxWrites))
			}
			line := fmt.Sprintf("| %s | %d | %.0f | %s | %s | %.0f%% | %.0f | %s |", cl.name, n, m.rate(), ms(m.p50), ms(m.p99), 100*mid(ratios), mid(cpus), perWrite)
			if m.err != nil {
				line += " error: " + m.err.Error()
			}
			fmt.Println(line)
		}
	}
	fmt.Println()
}

// runCluster3: lock cycles on one versitygw bucket, from 64 workers,
// against one node and against three clustered nodes with the workers'
// connections spread over the nodes (as a balancer would). Server CPU is
// the lockd processes' plus versitygw's.
func runCluster3(bin, tmp string) {
	gw := startVersity(tmp)
	defer gw.stop()
	env := []string{"LOCKD_S3_ACCESS_KEY_ID=" + benchS3Key, "LOCKD_S3_SECRET_ACCESS_KEY=" + benchS3Secret}
	store := func(prefix string) string {
		return "s3://" + gw.addr + "/" + benchBucket + "/" + prefix + "?insecure=1"
	}
	header("lock cycles on one versitygw bucket: one node vs a 3-node cluster (connections spread over the nodes)",
		"deployment", "workers", "cycles/s", "p50 ms", "p99 ms", "of one node", "lockd CPU µs/cycle", "lockd+versitygw CPU µs/cycle")
	one, _ := startLockdNode("s3-1", bin, store("one"), env, "--qrf-disabled")
	defer one.stop()
	three := startCluster("s3-3", bin, store("three"), env, 3)
	defer func() {
		for _, nd := range three {
			nd.stop()
		}
	}()
	gwCPU := func() (time.Duration, int64) {
		d, f, err := procCPU(gw.cmd.Process.Pid)
		check(err)
		return d, f
	}
	type deployment struct {
		name  string
		addrs []string
		nodes []*node
	}
	deps := []deployment{{"1 node", []string{one.addr}, []*node{{target: one}}}}
	var addrs []string
	for _, nd := range three {
		addrs = append(addrs, nd.addr)
	}
	deps = append(deps, deployment{"3 nodes", addrs, three})
	for _, n := range []int{8, 64} {
		lockdOnly := make([][]float64, len(deps))
		res := interleave(*cmpRounds, len(deps), func(i int) metered {
			d := deps[i]
			cls := make([]*client, len(d.addrs))
			for j, a := range d.addrs {
				cls[j] = newClient(&target{addr: a}, n)
			}
			lockd := sumCPU(d.name, d.addrs[0], d.nodes)
			all := sumCPU(d.name, d.addrs[0], d.nodes, gwCPU)
			ml, ma := startMeter(lockd), startMeter(all)
			r := run(n, func(w int, k int64) error {
				return cycleOn(cls[w%len(cls)], keyFor(w, n, k), "w"+strconv.Itoa(w))
			})
			ul, ua := ml.done(), ma.done()
			lockdOnly[i] = append(lockdOnly[i], metered{r, ul}.cpuPerOp())
			return metered{r, ua}
		})
		for i, d := range deps {
			m := medianRound(res[i])
			cpus := make([]float64, len(res[i]))
			ratios := make([]float64, len(res[i]))
			for r := range res[i] {
				cpus[r] = res[i][r].cpuPerOp()
				ratios[r] = res[i][r].rate() / res[0][r].rate()
			}
			line := fmt.Sprintf("| %s | %d | %.0f | %s | %s | %.0f%% | %.0f | %.0f |", d.name, n, m.rate(), ms(m.p50), ms(m.p99),
				100*mid(ratios), mid(lockdOnly[i]), mid(cpus))
			if m.err != nil {
				line += " error: " + m.err.Error()
			}
			fmt.Println(line)
		}
	}
	fmt.Println()
}

const (
	benchS3Key    = "lockdbench"
	benchS3Secret = "lockdbenchsecret"
	benchBucket   = "bench"
)

type versity struct {
	cmd  *exec.Cmd
	addr string
}

func (v *versity) stop() {
	v.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		v.cmd.Process.Kill()
		<-done
	}
}

// startVersity runs versitygw (from PATH or scripts/testdeps.sh's cache)
// on a free loopback port over a directory of tmp and creates the bucket.
func startVersity(tmp string) *versity {
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		bin = filepath.Join(testservers.CacheDir(), "bin", "versitygw")
	}
	dir := filepath.Join(tmp, "versitygw")
	check(os.MkdirAll(dir, 0o755))
	v := &versity{addr: freePort()}
	v.cmd = exec.Command(bin, "--access", benchS3Key, "--secret", benchS3Secret, "--port", v.addr, "--quiet", "posix", dir)
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := v.cmd.Start(); err != nil {
		check(fmt.Errorf("start versitygw (%s; run scripts/testdeps.sh): %w", bin, err))
	}
	cli := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + v.addr), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: benchS3Key, SecretAccessKey: benchS3Secret}, nil
		}),
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(benchBucket)})
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			v.stop()
			check(fmt.Errorf("versitygw did not create the bucket: %w", err))
		}
		time.Sleep(100 * time.Millisecond) // versitygw is starting
	}
}

// lockdBinaryForCluster is the first -lockd binary, or this tree's (built
// into tmp once).
func lockdBinaryForCluster(tmp string) string {
	if *lockdBins == "" {
		if _, err := os.Stat(filepath.Join(tmp, "lockd")); err == nil {
			return filepath.Join(tmp, "lockd")
		}
	}
	return lockdBinaries(tmp)[0].path
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
