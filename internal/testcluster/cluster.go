package testcluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Options describe a cluster of one test.
type Options struct {
	// Nodes is the number of processes (default 3).
	Nodes int
	// Store is the store URL every node serves (a shared bucket or
	// container); Env holds its credentials.
	Store string
	Env   []string
	// Args are further flags of every node.
	Args []string
	// Binary is the lockd binary (default: built by Binary).
	Binary string
	// Client reaches the nodes (default http.DefaultClient; a TLS client
	// for nodes that serve mTLS).
	Client *http.Client
}

// Cluster is several lockd processes joined over one store, behind a
// round-robin balancer.
type Cluster struct {
	Nodes []*Node
	LB    *Balancer
	opt   Options
	bin   string
}

// Start runs the nodes, the first starting the cluster and the others
// joining it by its API URL, waits until every node sees all of them and
// is ready, and puts the balancer in front.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Nodes <= 0 {
		opt.Nodes = 3
	}
	c := &Cluster{opt: opt, bin: opt.Binary}
	if c.bin == "" {
		c.bin = Binary(t)
	}
	first := c.startNode(t, "--cluster-listen", "127.0.0.1:0")
	c.Nodes = append(c.Nodes, first)
	for i := 1; i < opt.Nodes; i++ {
		c.Nodes = append(c.Nodes, c.startNode(t, "--join", first.URL))
	}
	for _, n := range c.Nodes {
		WaitMembers(t, n, opt.Nodes)
	}
	lb, err := NewBalancer(c.addrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	c.LB = lb
	return c
}

func (c *Cluster) startNode(t testing.TB, extra ...string) *Node {
	args := append([]string{"--store", c.opt.Store}, c.opt.Args...)
	n := StartNode(t, c.bin, c.opt.Env, append(args, extra...)...)
	if c.opt.Client != nil {
		n.Client = c.opt.Client
	}
	return n
}

// AddNode starts one more node that joins the cluster, and adds it to the
// balancer once every running node sees it.
func (c *Cluster) AddNode(t testing.TB) *Node {
	t.Helper()
	n := c.startNode(t, "--join", c.running()[0].URL)
	c.Nodes = append(c.Nodes, n)
	for _, m := range c.running() {
		WaitMembers(t, m, len(c.running()))
	}
	c.LB.SetBackends(c.addrs())
	return n
}

// Refresh points the balancer at the running nodes only.
func (c *Cluster) Refresh() { c.LB.SetBackends(c.addrs()) }

func (c *Cluster) running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

func (c *Cluster) addrs() []string {
	var out []string
	for _, n := range c.running() {
		u, _ := url.Parse(n.URL)
		out = append(out, u.Host)
	}
	return out
}

// Member is one entry of GET /v1/cluster/members.
type Member struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Gossip   string `json:"gossip"`
	State    string `json:"state"`
	Self     bool   `json:"self"`
}

// Members asks n for its member list.
func Members(n *Node) ([]Member, bool, error) {
	resp, err := n.Client.Get(n.URL + "/v1/cluster/members")
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Ready   bool     `json:"ready"`
		Members []Member `json:"members"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, false, fmt.Errorf("members of %s: %d %s", n.URL, resp.StatusCode, body)
	}
	return out.Members, out.Ready, nil
}

// WaitMembers waits until n is ready and sees exactly want alive members.
func WaitMembers(t testing.TB, n *Node, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, ready, err := Members(n)
		alive := 0
		for _, m := range ms {
			if m.State == "alive" {
				alive++
			}
		}
		if err == nil && ready && alive == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: %d alive members (ready %v, err %v), want %d: %+v\n%s", n.URL, alive, ready, err, want, ms, n.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
