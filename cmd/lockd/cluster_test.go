package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// startCluster runs three nodes on a fresh bucket or container.
func startCluster(t *testing.T, open func() (string, []string), args ...string) *testcluster.Cluster {
	t.Helper()
	url, env := open()
	return testcluster.Start(t, testcluster.Options{Store: url, Env: env, Binary: lockdBin, Args: args})
}

// servedBy asks node which node owns key (describe is served by the
// owner, which names itself).
func servedBy(t *testing.T, n *testcluster.Node, key string) string {
	t.Helper()
	resp, err := http.Get(n.URL + "/v1/describe?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get(api.HeaderServedBy)
}

// keyOwnedBy returns a key that owner owns, and the other nodes.
func keyOwnedBy(t *testing.T, c *testcluster.Cluster, owner *testcluster.Node, prefix string) (string, []*testcluster.Node) {
	t.Helper()
	var others []*testcluster.Node
	for _, n := range c.Nodes {
		if n != owner && n.Running() {
			others = append(others, n)
		}
	}
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("%s-%d", prefix, i)
		if servedBy(t, others[0], key) == owner.ID {
			return key, others
		}
	}
	t.Fatalf("no key of 200 is owned by %s", owner.ID)
	return "", nil
}

// A blocking acquire sent to one node is woken by a release sent to
// another, at once: both are forwarded to the key's owner, where the
// waiter is parked in the key's actor and handed the lease by the release.
// The lease and the wait are a minute long, so only the release can wake
// the waiter within the bounded wait below; nothing polls.
func TestClusterReleaseOnOneNodeWakesWaiterOnAnother(t *testing.T) {
	for name, open := range objectStores(t) {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, open)
			owner := c.Nodes[0]
			key, others := keyOwnedBy(t, c, owner, "wake")
			a, b := others[0], others[1]
			st, body, err := post(b.URL, "/v1/acquire", api.AcquireRequest{Key: key, Owner: "holder", TTLSeconds: 60})
			if err != nil || st != 200 {
				t.Fatalf("acquire via B: %d %s %v", st, body, err)
			}
			var h held
			json.Unmarshal(body, &h.AcquireResponse)
			type result struct {
				st   int
				body []byte
				err  error
			}
			woken := make(chan result, 1)
			go func() {
				st, body, err := post(a.URL, "/v1/acquire", api.AcquireRequest{Key: key, Owner: "waiter", TTLSeconds: 60, BlockSeconds: 60})
				woken <- result{st, body, err}
			}()
			waitFor(t, "the waiter parks at the owner", func() bool { return waiters(t, b, key) == 1 })
			if err := h.release(b.URL); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-woken:
				var got api.AcquireResponse
				json.Unmarshal(r.body, &got)
				if r.err != nil || r.st != 200 || got.Owner != "waiter" || got.FencingToken != h.FencingToken+1 {
					t.Fatalf("woken acquire: %d %s %v", r.st, r.body, r.err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the waiter on node A was not woken by the release on node B")
			}
		})
	}
}

// waiters reads the number of acquirers blocked on key, through node n.
func waiters(t *testing.T, n *testcluster.Node, key string) int {
	t.Helper()
	resp, err := http.Get(n.URL + "/v1/describe?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	w, _ := strconv.Atoi(resp.Header.Get(api.HeaderWaiters))
	return w
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// When a key's owner dies, a node asked for the key answers 503
// node_unavailable with Retry-After until membership declares the owner
// dead; the SDK, given several endpoints, retries and succeeds once the
// key has a live owner, and fencing continues from the stored counter.
func TestClusterDeadOwnerIs503AndSDKRetries(t *testing.T) {
	for name, open := range objectStores(t) {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, open)
			victim := c.Nodes[2]
			key, others := keyOwnedBy(t, c, victim, "dead")
			h, err := acquireKey(others[0].URL, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.release(others[0].URL); err != nil {
				t.Fatal(err)
			}
			// A request marked as forwarded that reaches a node which does
			// not own its key (views differ during a membership change) is
			// not served there nor forwarded again: 503 not_owner.
			want503(t, "forwarded request at a non-owner", others[0].URL, api.AcquireRequest{Key: key, Owner: "stray", TTLSeconds: 30, BlockSeconds: -1},
				others[1].ID, api.CodeNotOwner)
			if d := describeKey(t, victim.URL, key); d.Owner == "stray" {
				t.Fatalf("the stray forwarded acquire took the key: %+v", d)
			}
			victim.Kill()
			want503(t, "request for a dead owner's key", others[0].URL, api.AcquireRequest{Key: key, Owner: "w", BlockSeconds: -1}, "", api.CodeNodeUnavailable)
			cl, err := sdk.NewWithEndpoints([]string{others[0].URL, others[1].URL}, sdk.WithDisableMTLS(true),
				sdk.WithRetries(60), sdk.WithBackoff(100*time.Millisecond, time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, err := cl.Acquire(ctx, api.AcquireRequest{Key: key, Owner: "sdk", TTLSeconds: 30, BlockSeconds: -1})
			if err != nil {
				t.Fatalf("SDK acquire after the owner died: %v", err)
			}
			if l.FencingToken <= h.FencingToken {
				t.Fatalf("fencing went back: %d after %d", l.FencingToken, h.FencingToken)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func jsonBody(v any) *bytes.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// describeKey reads a key's lease through node url.
func describeKey(t *testing.T, url, key string) api.DescribeResponse {
	t.Helper()
	resp, err := http.Get(url + "/v1/describe?key=" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d api.DescribeResponse
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&d) != nil {
		t.Fatalf("describe %s: %d", key, resp.StatusCode)
	}
	return d
}

// want503 sends an acquire to node url (marked as forwarded by fwdBy when
// set) and wants 503 code with a Retry-After.
func want503(t *testing.T, what, url string, req api.AcquireRequest, fwdBy, code string) {
	t.Helper()
	r, _ := http.NewRequest("POST", url+"/v1/acquire", jsonBody(req))
	if fwdBy != "" {
		r.Header.Set(api.HeaderForwardedBy, fwdBy)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var e api.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 503 || e.Error != code || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d %+v Retry-After %q, want 503 %s", what, resp.StatusCode, e, resp.Header.Get("Retry-After"), code)
	}
}

// A forwarded blocking acquire travels to the owner as a frame on a
// multiplexed connection (--cluster-mux-threshold 1: every forward does);
// when its client hangs up, the forwarding node tells the owner (a cancel
// frame) and the owner withdraws the waiter, as it does when a plain
// forward's connection closes: the release that follows frees the key
// instead of handing it to a client that left.
func TestClusterForwardedWaiterWhoseClientLeftIsWithdrawn(t *testing.T) {
	c := startCluster(t, objectStores(t)["s3"], "--cluster-mux-threshold", "1")
	owner := c.Nodes[0]
	key, others := keyOwnedBy(t, c, owner, "left")
	a := others[0]
	h, err := acquireKey(a.URL, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := make(chan error, 1)
	go func() {
		r, _ := http.NewRequestWithContext(ctx, "POST", a.URL+"/v1/acquire",
			jsonBody(api.AcquireRequest{Key: key, Owner: "leaver", TTLSeconds: 60, BlockSeconds: 60}))
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the blocked acquire was answered %d", resp.StatusCode)
		}
		left <- err
	}()
	waitFor(t, "the waiter parks at the owner", func() bool { return waiters(t, a, key) == 1 })
	cancel()
	select {
	case err := <-left:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's request did not end when it hung up")
	}
	waitFor(t, "the owner withdraws the waiter", func() bool { return waiters(t, a, key) == 0 })
	if err := h.release(a.URL); err != nil {
		t.Fatal(err)
	}
	st, body, err := post(a.URL, "/v1/acquire", api.AcquireRequest{Key: key, Owner: "next", TTLSeconds: 30, BlockSeconds: -1})
	if err != nil || st != 200 {
		t.Fatalf("acquire after the release: %d %s %v (was the lease handed to the client that left?)", st, body, err)
	}
	if !strings.Contains(a.Log(), "multiplexed forwarding connection to the owner opened") {
		t.Errorf("node A forwarded without a multiplexed connection; its log:\n%s", a.Log())
	}
}
