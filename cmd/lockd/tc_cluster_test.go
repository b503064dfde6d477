package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/sdk/api"
)

// tcLeader reads /v1/tc/leader through node n.
func tcLeader(n *testcluster.Node) (api.TCLeaderResponse, bool) {
	var l api.TCLeaderResponse
	resp, err := http.Get(n.URL + "/v1/tc/leader")
	if err != nil {
		return l, false
	}
	defer resp.Body.Close()
	return l, resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&l) == nil
}

// agreedLeader waits until every running node names the same live leader.
func agreedLeader(t *testing.T, c *testcluster.Cluster, above int64) api.TCLeaderResponse {
	t.Helper()
	var got api.TCLeaderResponse
	waitFor(t, "the nodes agree on a TC leader", func() bool {
		var first *api.TCLeaderResponse
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			l, ok := tcLeader(n)
			if !ok || l.LeaderID == "" || l.Term <= above {
				return false
			}
			if first != nil && (first.LeaderID != l.LeaderID || first.Term != l.Term) {
				return false
			}
			first = &l
		}
		got = *first
		return true
	})
	return got
}

func updateHeld(t *testing.T, base string, h held, doc string) {
	t.Helper()
	st, body, err := post(base, "/v1/update?key="+h.Key, doc, api.HeaderLeaseID, h.LeaseID, api.HeaderTxnID, h.TxnID,
		api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10))
	if err != nil || st != 200 {
		t.Fatalf("update %s: %d %s %v", h.Key, st, body, err)
	}
}

func publicState(t *testing.T, base, key string) string {
	t.Helper()
	st, body, err := post(base, "/v1/get?public=1&key="+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st == 204 {
		return ""
	}
	return strings.TrimSpace(string(body))
}

// A transaction over keys owned by different nodes commits as one: the
// decision is taken by the elected TC leader and fanned out to each key's
// owner. Killing the leader elects another with a higher term.
func TestClusterTxnAcrossNodesAndLeaderFailover(t *testing.T) {
	open := objectStores(t)["s3"]
	c := startCluster(t, open)
	l := agreedLeader(t, c, 0)
	k1, _ := keyOwnedBy(t, c, c.Nodes[0], "tx1")
	k2, _ := keyOwnedBy(t, c, c.Nodes[1], "tx2")
	via := c.Nodes[2].URL
	h1, err := acquireKey(via, k1)
	if err != nil {
		t.Fatal(err)
	}
	st, body, err := post(via, "/v1/acquire", api.AcquireRequest{Key: k2, Owner: "crash-test", TTLSeconds: 300, TxnID: h1.TxnID})
	if err != nil || st != 200 {
		t.Fatalf("join %s: %d %s %v", k2, st, body, err)
	}
	var h2 held
	json.Unmarshal(body, &h2.AcquireResponse)
	updateHeld(t, via, h1, `{"v":1}`)
	updateHeld(t, via, h2, `{"v":2}`)
	if err := h1.release(via); err != nil {
		t.Fatal(err)
	}
	// k2 was not released by its client: the decision reached it.
	waitFor(t, "both keys committed", func() bool {
		if t.Failed() {
			return true
		}
		return publicState(t, via, k1) == `{"v":1}` && publicState(t, via, k2) == `{"v":2}`
	})

	// Rollback through the other key's node: neither key changes.
	h3, _ := acquireKey(c.Nodes[1].URL, k1)
	st, body, _ = post(c.Nodes[0].URL, "/v1/acquire", api.AcquireRequest{Key: k2, Owner: "crash-test", TTLSeconds: 300, TxnID: h3.TxnID})
	if st != 200 {
		t.Fatalf("join: %d %s", st, body)
	}
	var h4 held
	json.Unmarshal(body, &h4.AcquireResponse)
	updateHeld(t, via, h3, `{"v":3}`)
	updateHeld(t, via, h4, `{"v":4}`)
	st, body, _ = post(via, "/v1/release", api.ReleaseRequest{Key: h4.Key, LeaseID: h4.LeaseID, TxnID: h4.TxnID, Rollback: true},
		api.HeaderFencingToken, strconv.FormatInt(h4.FencingToken, 10))
	if st != 200 {
		t.Fatalf("rollback: %d %s", st, body)
	}
	waitFor(t, "k1 free again (rolled back with k2)", func() bool {
		h, err := acquireKey(via, k1)
		if err != nil {
			return false
		}
		h.release(via)
		return true
	})
	if a, b := publicState(t, via, k1), publicState(t, via, k2); a != `{"v":1}` || b != `{"v":2}` {
		t.Fatalf("after rollback: %s %s", a, b)
	}

	// A stale term is refused by every node.
	st, body, _ = post(via, "/v1/txn/commit", fmt.Sprintf(`{"txn_id":%q,"tc_term":%d,"participants":[{"namespace":"default","key":%q}]}`, h3.TxnID, l.Term-1, k1))
	if l.Term > 1 && (st != 409 || !strings.Contains(string(body), api.CodeTCTermStale)) {
		t.Fatalf("stale term: %d %s", st, body)
	}

	for _, n := range c.Nodes {
		if n.ID == l.LeaderID {
			n.Kill()
		}
	}
	nl := agreedLeader(t, c, l.Term)
	if nl.LeaderID == l.LeaderID {
		t.Fatalf("the dead leader still leads: %+v", nl)
	}
	// The stale leader's term is refused now.
	st, body, _ = post(via, "/v1/txn/commit", fmt.Sprintf(`{"txn_id":%q,"tc_term":%d}`, h3.TxnID, l.Term))
	if st != 409 || !strings.Contains(string(body), api.CodeTCTermStale) {
		t.Fatalf("old leader's term after failover: %d %s", st, body)
	}
}

// The leader dies (kill -9) after recording a commit and before fanning it
// out; the next leader replays the decision and every participant, on
// every node, ends committed.
func TestClusterTxnLeaderKilledBetweenDecisionAndFanout(t *testing.T) {
	url, env := objectStores(t)["s3"]()
	c := testcluster.Start(t, testcluster.Options{Store: url, Env: append(env, "LOCKD_FAILPOINT=txn-after-decision"), Binary: lockdBin})
	l := agreedLeader(t, c, 0)
	var leader *testcluster.Node
	var others []*testcluster.Node
	for _, n := range c.Nodes {
		if n.ID == l.LeaderID {
			leader = n
		} else {
			others = append(others, n)
		}
	}
	k1, _ := keyOwnedBy(t, c, others[0], "kd1")
	k2, _ := keyOwnedBy(t, c, others[1], "kd2")
	via := others[0].URL
	h1, err := acquireKey(via, k1)
	if err != nil {
		t.Fatal(err)
	}
	st, body, _ := post(via, "/v1/acquire", api.AcquireRequest{Key: k2, Owner: "crash-test", TTLSeconds: 300, TxnID: h1.TxnID})
	if st != 200 {
		t.Fatalf("join: %d %s", st, body)
	}
	var h2 held
	json.Unmarshal(body, &h2.AcquireResponse)
	updateHeld(t, via, h1, `{"v":1}`)
	updateHeld(t, via, h2, `{"v":2}`)
	h1.release(via) // the leader dies while deciding: the answer is an error
	waitFor(t, "the leader died at the failpoint", func() bool { return !leader.Running() })
	nl := agreedLeader(t, c, l.Term)
	t.Logf("new leader %s term %d", nl.LeaderID, nl.Term)
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("node %s:\n%s", n.ID, n.Log())
			}
		}
	}()
	waitFor(t, "both keys committed by the new leader's replay", func() bool {
		return publicState(t, via, k1) == `{"v":1}` && publicState(t, via, k2) == `{"v":2}`
	})
}
