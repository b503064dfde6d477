package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/sdk/api"
)

// apiProxy is a node's advertised API endpoint (its --self): every
// request another node sends it (forwarded calls, TC prepare and fan-out)
// passes here. Cut makes it drop every request (the connection closes
// without an answer) until Heal: the node is partitioned from its peers'
// API calls while its gossip, which does not pass here, keeps it a live
// member that still owns its keys. A cut also closes the connections the
// proxy switched to another protocol (the nodes' multiplexed forwarding),
// as a real partition ends every connection.
type apiProxy struct {
	ln       net.Listener
	upstream atomic.Pointer[url.URL]
	cut      atomic.Bool
	// cutAfterPrepare cuts the proxy once a TC prepare has been answered:
	// the partition starts between the vote and the decision's fan-out.
	cutAfterPrepare atomic.Bool

	mu       sync.Mutex
	dropped  map[string]int // path -> requests dropped while cut
	upgraded map[net.Conn]bool
}

// setCut starts (closing the upgraded connections) or ends a cut.
func (p *apiProxy) setCut(v bool) {
	p.cut.Store(v)
	if !v {
		return
	}
	p.mu.Lock()
	conns := p.upgraded
	p.upgraded = map[net.Conn]bool{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

func newAPIProxy(t *testing.T) *apiProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{ln: ln, dropped: map[string]int{}, upgraded: map[net.Conn]bool{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(p.upstream.Load())
		r.Out.Host = r.In.Host
	}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cut.Load() || p.upstream.Load() == nil {
			p.mu.Lock()
			p.dropped[r.URL.Path]++
			p.mu.Unlock()
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
		if r.URL.Path == "/v1/cluster/txn/prepare" && p.cutAfterPrepare.Load() {
			p.setCut(true)
		}
	}), ReadHeaderTimeout: 5 * time.Second, ConnState: func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			p.mu.Lock()
			if p.cut.Load() {
				c.Close()
			} else {
				p.upgraded[c] = true
			}
			p.mu.Unlock()
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *apiProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *apiProxy) setUpstream(raw string) {
	u, _ := url.Parse(raw)
	p.upstream.Store(u)
}

func (p *apiProxy) droppedOf(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped[path]
}

// proxiedCluster runs three nodes on one S3 bucket, each advertising a
// proxy as its endpoint (--self), with quick fan-out retries so that a
// decision's first fan-out gives up within a few seconds and the leader's
// replay loop takes over.
func proxiedCluster(t *testing.T) (*testcluster.Cluster, []*apiProxy) {
	t.Helper()
	store, env := objectStores(t)["s3"]()
	fanout := []string{"--tc-fanout-timeout", "500ms", "--tc-fanout-attempts", "3", "--tc-fanout-base-delay", "100ms", "--tc-fanout-max-delay", "400ms"}
	c := &testcluster.Cluster{}
	var proxies []*apiProxy
	for i := 0; i < 3; i++ {
		p := newAPIProxy(t)
		args := append([]string{"--store", store, "--self", p.URL()}, fanout...)
		if i == 0 {
			args = append(args, "--cluster-listen", "127.0.0.1:0")
		} else {
			args = append(args, "--join", c.Nodes[0].URL)
		}
		n := testcluster.StartNode(t, lockdBin, env, args...)
		p.setUpstream(n.URL)
		c.Nodes = append(c.Nodes, n)
		proxies = append(proxies, p)
	}
	for _, n := range c.Nodes {
		testcluster.WaitMembers(t, n, 3)
	}
	return c, proxies
}

// pendingTxn acquires k1 and k2 under one transaction through via and
// stages {"v":v} on both; it returns the two leases.
func pendingTxn(t *testing.T, via, k1, k2 string, v int) (held, held) {
	return pendingTxnTTL(t, via, k1, k2, v, 300)
}

// pendingTxnTTL is pendingTxn with k2's lease of ttl seconds.
func pendingTxnTTL(t *testing.T, via, k1, k2 string, v int, ttl int64) (held, held) {
	t.Helper()
	h1, err := acquireKey(via, k1)
	if err != nil {
		t.Fatal(err)
	}
	st, body, err := post(via, "/v1/acquire", api.AcquireRequest{Key: k2, Owner: "crash-test", TTLSeconds: ttl, TxnID: h1.TxnID})
	if err != nil || st != 200 {
		t.Fatalf("join %s: %d %s %v", k2, st, body, err)
	}
	var h2 held
	json.Unmarshal(body, &h2.AcquireResponse)
	updateHeld(t, via, h1, fmt.Sprintf(`{"v":%d}`, v))
	updateHeld(t, via, h2, fmt.Sprintf(`{"v":%d}`, v))
	return h1, h2
}

// roles picks the TC leader, a resource manager that is not the leader
// (the one to partition) and the third node (the client's entry).
func roles(t *testing.T, c *testcluster.Cluster, proxies []*apiProxy) (leader, rm, via *testcluster.Node, rmProxy *apiProxy) {
	t.Helper()
	l := agreedLeader(t, c, 0)
	var rest []int
	for i, n := range c.Nodes {
		if n.ID == l.LeaderID {
			leader = n
		} else {
			rest = append(rest, i)
		}
	}
	if leader == nil || len(rest) != 2 {
		t.Fatalf("leader %+v not among the nodes", l)
	}
	return leader, c.Nodes[rest[0]], c.Nodes[rest[1]], proxies[rest[0]]
}

func dumpLogsOnFailure(t *testing.T, c *testcluster.Cluster) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("node %s:\n%s", n.ID, n.Log())
			}
		}
	})
}

// A resource manager is partitioned from the TC right after it voted to
// commit: the leader records the commit, its fan-out to that RM fails
// after its retries (the client's release still answers 200: the decision
// is durable), the other participant commits, and once the partition
// heals the leader's replay applies the decision to the RM. Both keys end
// committed; nothing was rolled back.
func TestClusterTxnRMPartitionedDuringFanoutCommits(t *testing.T) {
	c, proxies := proxiedCluster(t)
	dumpLogsOnFailure(t, c)
	leader, rm, via, rmProxy := roles(t, c, proxies)
	k1, _ := keyOwnedBy(t, c, leader, "pc1")
	k2, _ := keyOwnedBy(t, c, rm, "pc2")
	h1, _ := pendingTxnTTL(t, via.URL, k1, k2, 1, 2) // k2's lease lapses during the partition

	rmProxy.cutAfterPrepare.Store(true)
	if err := h1.release(via.URL); err != nil {
		t.Fatalf("commit with the RM partitioned after its vote: %v", err)
	}
	if !rmProxy.cut.Load() {
		t.Fatal("the TC never asked the RM to prepare")
	}
	// The fan-out to the RM was retried with backoff, then left to replay.
	waitFor(t, "the fan-out's attempts reach the cut proxy", func() bool { return rmProxy.droppedOf("/v1/txn/commit") >= 3 })
	if got := publicState(t, leader.URL, k1); got != `{"v":1}` {
		t.Fatalf("the reachable participant: %s, want committed", got)
	}
	// Still partitioned: the key's owner cannot be reached to read k2.
	if st, body, _ := post(via.URL, "/v1/get?public=1&key="+k2, nil); st == 200 {
		t.Fatalf("k2 read through a partitioned owner: %d %s", st, body)
	}

	// k2's lease has lapsed, but its transaction decided commit: another
	// client asking the RM directly must not get the key (and discard the
	// staged commit) before the decision is applied.
	time.Sleep(2500 * time.Millisecond)
	if st, body, _ := post(rm.URL, "/v1/acquire", api.AcquireRequest{Key: k2, Owner: "intruder", TTLSeconds: 30}); st == 200 {
		t.Fatalf("k2 granted to another client while its committed transaction is not applied: %s", body)
	}

	rmProxy.setCut(false)
	rmProxy.cutAfterPrepare.Store(false)
	waitFor(t, "the healed RM applies the commit (leader's replay)", func() bool {
		return publicState(t, via.URL, k2) == `{"v":1}`
	})
	if got := publicState(t, via.URL, k1); got != `{"v":1}` {
		t.Fatalf("k1 after heal: %s", got)
	}
	// The RM released k2's lease with the commit.
	h, err := acquireKey(via.URL, k2)
	if err != nil {
		t.Fatalf("k2 still leased after the commit was applied: %v", err)
	}
	h.release(via.URL)
}

// The RM is unreachable when the client commits: the TC cannot get its
// vote, so it decides rollback (the client gets 409 txn_aborted), rolls
// back the reachable participant and, once the partition heals, the RM.
// Neither key changes and both are free again.
func TestClusterTxnRMPartitionedBeforePrepareRollsBack(t *testing.T) {
	c, proxies := proxiedCluster(t)
	dumpLogsOnFailure(t, c)
	leader, rm, via, rmProxy := roles(t, c, proxies)
	k1, _ := keyOwnedBy(t, c, leader, "pr1")
	k2, _ := keyOwnedBy(t, c, rm, "pr2")
	h1, _ := pendingTxn(t, via.URL, k1, k2, 1) // a committed baseline: {"v":1} on both
	if err := h1.release(via.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the baseline commit", func() bool {
		return publicState(t, via.URL, k1) == `{"v":1}` && publicState(t, via.URL, k2) == `{"v":1}`
	})

	h1, _ = pendingTxn(t, via.URL, k1, k2, 2)
	rmProxy.setCut(true)
	st, body, err := post(via.URL, "/v1/release", api.ReleaseRequest{Key: h1.Key, LeaseID: h1.LeaseID, TxnID: h1.TxnID},
		api.HeaderFencingToken, strconv.FormatInt(h1.FencingToken, 10))
	if err != nil || st != 409 || !strings.Contains(string(body), api.CodeTxnAborted) {
		t.Fatalf("commit with the RM unreachable: %d %s %v, want 409 %s", st, body, err, api.CodeTxnAborted)
	}
	if rmProxy.droppedOf("/v1/cluster/txn/prepare") == 0 {
		t.Fatal("the TC did not try to reach the RM")
	}
	waitFor(t, "k1 free again (rolled back)", func() bool {
		h, err := acquireKey(via.URL, k1)
		if err != nil {
			return false
		}
		h.release(via.URL)
		return true
	})
	if got := publicState(t, via.URL, k1); got != `{"v":1}` {
		t.Fatalf("k1 after rollback: %s", got)
	}

	rmProxy.setCut(false)
	waitFor(t, "the healed RM rolls k2 back (k2 free again)", func() bool {
		h, err := acquireKey(via.URL, k2)
		if err != nil {
			return false
		}
		h.release(via.URL)
		return true
	})
	if a, b := publicState(t, via.URL, k1), publicState(t, via.URL, k2); a != `{"v":1}` || b != `{"v":1}` {
		t.Fatalf("after the healed rollback: %s %s, want the baseline on both", a, b)
	}
}

// A deposed leader's decision is refused: a transaction is pending over
// keys of two nodes when the leader is killed; a commit carrying the old
// leader's term, sent to each participant's RM and to the new leader's
// decide endpoint, is answered 409 tc_term_stale and changes nothing; the
// transaction then commits in the new term.
func TestClusterTxnStaleLeaderDecisionRejected(t *testing.T) {
	c, proxies := proxiedCluster(t)
	dumpLogsOnFailure(t, c)
	leader, rm, via, _ := roles(t, c, proxies)
	old := agreedLeader(t, c, 0)
	k1, _ := keyOwnedBy(t, c, via, "st1")
	k2, _ := keyOwnedBy(t, c, rm, "st2")
	h1, _ := pendingTxn(t, via.URL, k1, k2, 7)

	leader.Kill()
	nl := agreedLeader(t, c, old.Term)
	if nl.LeaderID == old.LeaderID || nl.Term <= old.Term {
		t.Fatalf("no new leader after the kill: %+v (old %+v)", nl, old)
	}
	stale := func(base, path string, parts ...string) {
		t.Helper()
		var ps []string
		for _, k := range parts {
			ps = append(ps, fmt.Sprintf(`{"namespace":"default","key":%q}`, k))
		}
		body := fmt.Sprintf(`{"txn_id":%q,"state":"commit","tc_term":%d,"participants":[%s]}`, h1.TxnID, old.Term, strings.Join(ps, ","))
		st, resp, err := post(base, path, body)
		if err != nil || st != 409 || !strings.Contains(string(resp), api.CodeTCTermStale) {
			t.Fatalf("stale decision %s at %s: %d %s %v, want 409 %s", path, base, st, resp, err, api.CodeTCTermStale)
		}
	}
	stale(via.URL, "/v1/txn/commit", k1)
	stale(rm.URL, "/v1/txn/commit", k2)
	stale(rm.URL, "/v1/txn/rollback", k2)
	stale(via.URL, "/v1/txn/decide", k1, k2)
	for _, k := range []string{k1, k2} {
		if got := publicState(t, via.URL, k); got != "" {
			t.Fatalf("%s after the refused stale commit: %q, want nothing committed", k, got)
		}
	}
	// The transaction is intact: the client commits it in the new term.
	if err := h1.release(via.URL); err != nil {
		t.Fatalf("commit after the refused stale decision: %v", err)
	}
	waitFor(t, "both keys committed in the new term", func() bool {
		return publicState(t, via.URL, k1) == `{"v":7}` && publicState(t, via.URL, k2) == `{"v":7}`
	})
}
