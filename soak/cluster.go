package soak

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockdhq/lockd/internal/gossiprelay"
)

// clusterEnv is a "cluster" phase's deployment: lockd nodes joined over
// one versitygw bucket, each behind its own proxy (its advertised
// endpoint, so clients through the balancer and peers forwarding to it
// both pass there) and reaching the store through another proxy of its
// own; a round-robin balancer (a Proxy with several upstreams) in front.
// Each node's gossip binds on a loopback address of its own
// (127.0.0.gossipHostBase+i) and is advertised (--cluster-advertise) at a
// gossip relay (internal/gossiprelay). A partition blackholes both
// proxies of one node and cuts its gossip host off every relay, both
// ways: nobody reaches its API, it reaches no store, and memberlist on
// either side stops hearing the other, so the others declare it dead and
// take its keys over while it fences itself (docs/CLUSTER.md). A binary
// without --cluster-advertise keeps its gossip up during a partition
// (the gray failure in which the others keep routing its keys to it).
type clusterEnv struct {
	objects *objectStore
	front   *Proxy
	bin     string
	args    []string // flags of every node
	env     []string
	outDir  string
	phase   string
	seed    uint64
	seeds   []string         // API URLs (node proxies) of the first nodes
	gossip  *gossiprelay.Net // nil: gossip is not relayed (not cut)

	mu      sync.Mutex
	nodes   []*clusterNode
	onExitF func(*node) func(bool, error, string)
}

type clusterNode struct {
	n *node
	// balanced is set once the balancer routes to the node.
	balanced bool
	api      *Proxy // in front of the node's API: its --self
	store    *Proxy // between the node and versitygw
	// relay is in front of the node's gossip, bound on bind (a host of
	// its own); nil when gossip is not relayed.
	relay *gossiprelay.Relay
	bind  string
}

// gossipHostBase is the last byte of the first node's gossip host.
const gossipHostBase = 100

// newClusterEnv starts the object store and ph.Nodes nodes, waits until
// every one is ready and sees all the others, and puts the balancer in
// front.
func newClusterEnv(p *Profile, ph Phase, outDir string) (*clusterEnv, error) {
	dir := filepath.Join(outDir, "s3-"+ph.Name)
	os.RemoveAll(dir)
	seed := p.Seed ^ phaseStream(ph.Name)
	o, err := startObjectStore(dir, 0, 0, seed^0x53)
	if err != nil {
		return nil, err
	}
	c := &clusterEnv{objects: o, bin: p.Lockd, args: nodeArgs(p.Lockd), outDir: outDir, phase: ph.Name, seed: seed,
		env: append([]string{"HOME=" + outDir}, o.env()...)}
	if p.Unsafe != "" {
		c.env = append(c.env, "LOCKD_TEST_UNSAFE="+p.Unsafe)
	}
	if supportsFlag(p.Lockd, "--cluster-advertise") {
		c.gossip = gossiprelay.NewNet()
	}
	for range max(ph.Nodes, 1) {
		cn, err := c.prepare()
		if err != nil {
			c.close()
			return nil, err
		}
		c.seeds = append(c.seeds, "http://"+cn.api.Addr())
	}
	for _, cn := range c.nodes {
		c.setArgs(cn, c.seeds)
	}
	for i := range c.nodes {
		if err := c.nodes[i].n.start(); err != nil {
			c.close()
			return nil, err
		}
	}
	for _, cn := range c.nodes {
		if err := c.waitReady(cn, len(c.nodes)); err != nil {
			c.close()
			return nil, err
		}
	}
	if c.front, err = NewProxy(c.nodes[0].api.Addr(), seed^0xF0); err != nil {
		c.close()
		return nil, err
	}
	c.balance(c.nodes...)
	return c, nil
}

// prepare sets up the next node (port, proxies, flags) without starting
// it.
func (c *clusterEnv) prepare() (*clusterNode, error) {
	c.mu.Lock()
	i := len(c.nodes)
	c.mu.Unlock()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cn := &clusterNode{}
	if cn.api, err = NewProxy(addr, c.seed^uint64(0xA100+i)); err != nil {
		return nil, err
	}
	if cn.store, err = NewProxy(c.objects.addr, c.seed^uint64(0x5100+i)); err != nil {
		cn.api.Close()
		return nil, err
	}
	if c.gossip != nil {
		if err := c.relayGossip(cn, i); err != nil {
			cn.api.Close()
			cn.store.Close()
			return nil, err
		}
	}
	cn.n = &node{bin: c.bin, store: "s3://" + cn.store.Addr() + "/" + objBucket + "/lockd?insecure=1",
		env: c.env, addr: addr, logPath: filepath.Join(c.outDir, fmt.Sprintf("lockd-%s-%d.log", c.phase, i))}
	c.mu.Lock()
	c.nodes = append(c.nodes, cn)
	c.mu.Unlock()
	return cn, nil
}

// setArgs gives a node its flags: advertised endpoint (its proxy), the
// seeds (the first nodes' endpoints, itself included for those: a node
// that is one of its seeds may start the cluster alone) and a gossip
// port of its own.
func (c *clusterEnv) setArgs(cn *clusterNode, seeds []string) {
	cn.n.mu.Lock()
	defer cn.n.mu.Unlock()
	args := append([]string(nil), c.args...)
	args = append(args, "--self", "http://"+cn.api.Addr())
	if cn.relay != nil {
		args = append(args, "--cluster-listen", cn.bind, "--cluster-advertise", cn.relay.Addr())
	} else {
		args = append(args, "--cluster-listen", "127.0.0.1:0")
	}
	if len(seeds) > 0 {
		args = append(args, "--join", strings.Join(seeds, ","))
	}
	cn.n.args = args
}

// members asks a node (directly, not through its proxy) for its view.
func members(addr string) (ready bool, alive int, err error) {
	cli := http.Client{Timeout: 2 * time.Second}
	resp, err := cli.Get("http://" + addr + "/v1/cluster/members")
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		Ready   bool `json:"ready"`
		Members []struct {
			State string `json:"state"`
		} `json:"members"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return false, 0, fmt.Errorf("members: %d %s", resp.StatusCode, shorten(string(b), 120))
	}
	for _, m := range out.Members {
		if m.State == "alive" {
			alive++
		}
	}
	return out.Ready, alive, nil
}

// waitReady polls a node until it is ready and sees at least want alive
// members (bounded: 30 s; a poll every 100 ms, since the harness has no
// event to wait on from another process).
func (c *clusterEnv) waitReady(cn *clusterNode, want int) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		cn.n.mu.Lock()
		addr := cn.n.addr
		cn.n.mu.Unlock()
		ready, alive, err := members(addr)
		if err == nil && ready && alive >= want {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("ready %v, %d alive members, want %d", ready, alive, want)
		}
		time.Sleep(100 * time.Millisecond) // polling another process
	}
	return fmt.Errorf("soak: cluster node %s not ready within 30s: %v\n%s", cn.n.addr, last, lastLines(cn.n.tail(), 5))
}

// balance adds nodes to the balancer, which keeps every node it was
// given: a killed node stays in it, as in a balancer whose health check
// has not noticed yet (its connections fail).
func (c *clusterEnv) balance(add ...*clusterNode) {
	var ups []string
	c.mu.Lock()
	for _, cn := range add {
		cn.balanced = true
	}
	for _, cn := range c.nodes {
		if cn.balanced {
			ups = append(ups, cn.api.Addr())
		}
	}
	c.mu.Unlock()
	c.front.SetUpstreams(ups)
}

// running counts the running nodes.
func (c *clusterEnv) running() int {
	n := 0
	for _, cn := range c.list() {
		if cn.n.running() {
			n++
		}
	}
	return n
}

func (c *clusterEnv) list() []*clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*clusterNode(nil), c.nodes...)
}

func (c *clusterEnv) node(i int) *clusterNode {
	l := c.list()
	return l[i%len(l)]
}

// restartNode starts a stopped node again on its port and waits until it
// has joined.
func (c *clusterEnv) restartNode(cn *clusterNode) error {
	if err := cn.n.start(); err != nil {
		return err
	}
	return c.waitReady(cn, c.running())
}

// join starts one more node, seeded with the first nodes, and adds it to
// the balancer once it is ready.
func (c *clusterEnv) join() (*clusterNode, error) {
	cn, err := c.prepare()
	if err != nil {
		return nil, err
	}
	c.setArgs(cn, c.seeds)
	if c.onExitF != nil {
		cn.n.onExit = c.onExitF(cn.n)
	}
	if err := cn.n.start(); err != nil {
		return cn, err
	}
	if err := c.waitReady(cn, c.running()); err != nil {
		return cn, err
	}
	c.balance(cn)
	return cn, nil
}

// relayGossip gives node i a gossip host of its own, a port free there
// (kept across restarts) and a relay in front of it.
func (c *clusterEnv) relayGossip(cn *clusterNode, i int) error {
	host := fmt.Sprintf("127.0.0.%d", gossipHostBase+i)
	port, err := gossiprelay.FreePort(host)
	if err != nil {
		return err
	}
	cn.bind = net.JoinHostPort(host, strconv.Itoa(port))
	cn.relay, err = gossiprelay.Start(c.gossip, "127.0.0.1:0", cn.bind)
	return err
}

// partition blackholes a node's API and store traffic and cuts its
// gossip (when relayed) until heal.
func (c *clusterEnv) partition(cn *clusterNode, on bool) {
	mode := Chaos{}
	if on {
		mode = chaosByName("blackhole")
	}
	cn.api.SetChaos(mode)
	cn.store.SetChaos(mode)
	if cn.relay != nil {
		c.gossip.Cut(hostOf(cn.bind), on)
	}
}

// heal ends every partition and chaos window.
func (c *clusterEnv) heal() {
	c.front.SetChaos(Chaos{})
	for _, cn := range c.list() {
		cn.api.SetChaos(Chaos{})
		cn.store.SetChaos(Chaos{})
		if cn.relay != nil {
			c.gossip.Cut(hostOf(cn.bind), false)
		}
	}
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// startStopped restarts every node that is down.
func (c *clusterEnv) startStopped() error {
	var errs []error
	for _, cn := range c.list() {
		if !cn.n.running() {
			errs = append(errs, cn.n.start())
		}
	}
	for _, cn := range c.list() {
		errs = append(errs, c.waitReady(cn, c.running()))
	}
	return errors.Join(errs...)
}

// killAll kills -9 every node and starts them again (the final
// durability check).
func (c *clusterEnv) killAll() error {
	for _, cn := range c.list() {
		cn.n.kill9()
	}
	return c.startStopped()
}

func (c *clusterEnv) close() {
	if c.front != nil {
		c.front.Close()
	}
	var wg sync.WaitGroup
	for _, cn := range c.list() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cn.n.running() {
				if err := cn.n.stop(15 * time.Second); err != nil {
					cn.n.kill9()
				}
			}
			cn.api.Close()
			cn.store.Close()
			if cn.relay != nil {
				cn.relay.Close()
			}
		}()
	}
	wg.Wait()
	if c.objects != nil {
		c.objects.close()
	}
}
