package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/gossiprelay"
	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/sdk/api"
)

// gossipPort returns a port free for both UDP and TCP on host.
func gossipPort(t *testing.T, host string) int {
	t.Helper()
	p, err := gossiprelay.FreePort(host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startRelayedCluster starts three nodes whose gossip binds on a loopback
// address of each (127.0.0.hostBase+i) and is advertised
// (--cluster-advertise) at a relay of gn.
func startRelayedCluster(t *testing.T, gn *gossiprelay.Net, hostBase int, store string, env []string) ([]*testcluster.Node, []string, []*gossiprelay.Relay) {
	t.Helper()
	var nodes []*testcluster.Node
	var hosts []string
	var relays []*gossiprelay.Relay
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", hostBase+i)
		bind := net.JoinHostPort(host, strconv.Itoa(gossipPort(t, host)))
		r, err := gossiprelay.Start(gn, "127.0.0.1:0", bind)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		args := []string{"--store", store, "--cluster-listen", bind, "--cluster-advertise", r.Addr()}
		if i > 0 {
			args = append(args, "--join", nodes[0].URL)
		}
		nodes = append(nodes, testcluster.StartNode(t, lockdBin, env, args...))
		hosts = append(hosts, host)
		relays = append(relays, r)
	}
	for _, n := range nodes {
		testcluster.WaitMembers(t, n, 3)
	}
	return nodes, hosts, relays
}

// publicRead reads key's committed counter through node url: the status
// and, on 200, the counter.
func publicRead(t *testing.T, url, key string) (int, int, string) {
	t.Helper()
	st, body, err := post(url, "/v1/get?public=1&key="+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ N int }
	if st == 200 {
		json.Unmarshal(body, &doc)
	}
	var e api.ErrorResponse
	json.Unmarshal(body, &e)
	return st, doc.N, e.Error
}

func readyz(url string) int {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sees(t *testing.T, n *testcluster.Node, id string) bool {
	ms, _, err := testcluster.Members(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == id && m.State == "alive" {
			return true
		}
	}
	return false
}

// A node cut off the gossip network (--cluster-advertise at a relay the
// test cuts, both directions) while clients still reach its API: it stops
// serving its keys (503 node_unavailable, /readyz 503) before the others
// declare it dead; they take its keys over and change them; a read
// through the cut node never returns the value it had cached. When the
// cut ends it rejoins by itself and serves the new value from the store.
func TestClusterGossipPartitionFencesStaleReads(t *testing.T) {
	endpoint, access, secret, bucket := testservers.StartS3(t)
	store := fmt.Sprintf("s3://%s/%s/partition?insecure=1", endpoint, bucket)
	env := []string{"LOCKD_S3_ACCESS_KEY_ID=" + access, "LOCKD_S3_SECRET_ACCESS_KEY=" + secret}
	gn := gossiprelay.NewNet()
	nodes, hosts, relays := startRelayedCluster(t, gn, 70, store, env)
	ms, _, err := testcluster.Members(nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	advertised := map[string]bool{}
	for _, m := range ms {
		advertised[m.Gossip] = true
	}
	for _, r := range relays {
		if !advertised[r.Addr()] {
			t.Fatalf("members %+v do not show the advertised relay %s", ms, r.Addr())
		}
	}

	c := &testcluster.Cluster{Nodes: nodes}
	victim := nodes[2]
	key, others := keyOwnedBy(t, c, victim, "partition")
	victimID := servedBy(t, victim, key)
	h, err := acquireKey(victim.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := incrementUnderLease(victim.URL, h); !ok {
		t.Fatal("increment through the owner failed")
	}
	if err := h.release(victim.URL); err != nil {
		t.Fatal(err)
	}
	if st, n, _ := publicRead(t, victim.URL, key); st != 200 || n != 1 {
		t.Fatalf("read through the owner: %d n=%d, want 200 n=1", st, n)
	}

	cut := time.Now()
	gn.Cut(hosts[2], true)
	var fenced, declared time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for fenced == 0 || declared == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the cut: fenced after %v, declared dead after %v\n%s", fenced, declared, victim.Log())
		}
		if fenced == 0 && readyz(victim.URL) == 503 {
			fenced = time.Since(cut)
		}
		if declared == 0 && !sees(t, others[0], victimID) {
			declared = time.Since(cut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the cut node stopped serving after %v; the others declared it dead after %v", fenced, declared)
	if fenced >= declared {
		t.Fatalf("the cut node served until %v, after the others declared it dead (%v)", fenced, declared)
	}
	// The others own the key now and change it, once the cut node's
	// fence has surely closed (FenceAfter after they declared it dead:
	// 503 node_unavailable until then, which a client retries).
	deadline = time.Now().Add(15 * time.Second)
	for h, err = acquireKey(others[0].URL, key); err != nil && strings.Contains(err.Error(), api.CodeNodeUnavailable); h, err = acquireKey(others[0].URL, key) {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := incrementUnderLease(others[0].URL, h); !ok || n != 2 {
		t.Fatalf("increment through the new owner: %d %v, want 2", n, ok)
	}
	if err := h.release(others[0].URL); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		st, n, code := publicRead(t, victim.URL, key)
		if st == 200 {
			t.Fatalf("the cut node answered a read with n=%d (the new owner committed 2)", n)
		}
		if st != 503 || code != api.CodeNodeUnavailable {
			t.Fatalf("read through the cut node: %d %s, want 503 %s", st, code, api.CodeNodeUnavailable)
		}
	}

	healed := time.Now()
	gn.Cut(hosts[2], false)
	waitFor(t, "the healed node is ready again", func() bool { return readyz(victim.URL) == 200 })
	for _, n := range nodes {
		testcluster.WaitMembers(t, n, 3)
	}
	t.Logf("healed: ready again after %v", time.Since(healed))
	if id := servedBy(t, victim, key); id != victimID {
		t.Fatalf("the key is served by %s after the heal, want its owner %s again (same identity)", id, victimID)
	}
	for _, n := range nodes {
		if st, v, code := publicRead(t, n.URL, key); st != 200 || v != 2 {
			t.Fatalf("read through %s after the heal: %d n=%d %s, want 200 n=2", n.URL, st, v, code)
		}
	}
}
