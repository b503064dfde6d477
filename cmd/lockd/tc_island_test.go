package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/sdk/api"
)

// rmBackends lists the RM registry through n.
func rmBackends(t *testing.T, base string) []api.TCRMBackend {
	t.Helper()
	st, body, err := post(base, "/v1/tc/rm/list", nil)
	var out api.TCRMListResponse
	if err != nil || st != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("rm list at %s: %d %s %v", base, st, body, err)
	}
	return out.Backends
}

// ownHash is the backend hash of base's store: the one backend whose
// endpoints include self (every node registers itself at start).
func ownHash(t *testing.T, base, self string) string {
	t.Helper()
	var hash string
	waitFor(t, "the node is in its own RM registry", func() bool {
		for _, b := range rmBackends(t, base) {
			for _, ep := range b.Endpoints {
				if ep == self {
					hash = b.BackendHash
					return true
				}
			}
		}
		return false
	})
	return hash
}

// islands are two deployments on different stores: A, one node on disk
// (the transaction's coordinator), and B, a cluster of two nodes on one
// versitygw bucket. A knows B through its RM registry: B's backend hash
// with the endpoint of B's first node only, so that B's participant, a
// key owned by B's second node, is reached through a node that does not
// own it.
type islands struct {
	a           *testcluster.Node
	aDir        string
	aEnv        []string
	b           *testcluster.Cluster
	hashA       string
	hashB       string
	rmB, ownerB *testcluster.Node
}

func startIslands(t *testing.T, aEnv ...string) *islands {
	t.Helper()
	is := &islands{aDir: t.TempDir(), aEnv: aEnv}
	is.b = startClusterN(t, 2)
	is.a = testcluster.StartNode(t, lockdBin, aEnv, "--store", "disk://"+is.aDir)
	is.hashA = ownHash(t, is.a.URL, is.a.URL)
	self := is.b.Nodes[0].URL
	is.hashB = ownHash(t, is.b.Nodes[0].URL, self)
	if is.hashA == is.hashB {
		t.Fatalf("two stores share the backend hash %s", is.hashA)
	}
	is.rmB, is.ownerB = is.b.Nodes[0], is.b.Nodes[1]
	// Register island B's RM with island A's TC (what an operator does
	// with `lockd tc rm register` or the SDK's TCRMRegister).
	st, body, err := post(is.a.URL, "/v1/tc/rm/register", api.TCRMRegisterRequest{BackendHash: is.hashB, Endpoint: is.rmB.URL})
	if err != nil || st != 200 {
		t.Fatalf("register B at A: %d %s %v", st, body, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("island A:\n%s", is.a.Log())
			for _, n := range is.b.Nodes {
				t.Logf("island B node %s:\n%s", n.ID, n.Log())
			}
		}
	})
	return is
}

// startClusterN runs n nodes on a fresh versitygw bucket.
func startClusterN(t *testing.T, n int) *testcluster.Cluster {
	t.Helper()
	url, env := objectStores(t)["s3"]()
	return testcluster.Start(t, testcluster.Options{Nodes: n, Store: url, Env: env, Binary: lockdBin})
}

// begin starts a transaction over kA on island A and kB on island B,
// stages {"v":v} on both and enlists B's key at A's coordinator (a
// pending decision naming it with B's backend hash, as `lockd txn
// prepare -p default:kB@HASH` does). It returns A's lease.
func (is *islands) begin(t *testing.T, kA, kB string, v int) held {
	t.Helper()
	hA, _ := is.beginTTL(t, kA, kB, v, 300)
	return hA
}

// beginTTL is begin with B's lease for ttlB seconds; it also returns B's
// lease.
func (is *islands) beginTTL(t *testing.T, kA, kB string, v int, ttlB int64) (held, held) {
	t.Helper()
	hA, err := acquireKey(is.a.URL, kA)
	if err != nil {
		t.Fatal(err)
	}
	st, body, err := post(is.b.Nodes[0].URL, "/v1/acquire", api.AcquireRequest{Key: kB, Owner: "crash-test", TTLSeconds: ttlB, TxnID: hA.TxnID})
	if err != nil || st != 200 {
		t.Fatalf("join %s on island B: %d %s %v", kB, st, body, err)
	}
	var hB held
	json.Unmarshal(body, &hB.AcquireResponse)
	doc := fmt.Sprintf(`{"v":%d}`, v)
	updateHeld(t, is.a.URL, hA, doc)
	updateHeld(t, is.b.Nodes[0].URL, hB, doc)
	st, body, err = post(is.a.URL, "/v1/txn/decide", fmt.Sprintf(
		`{"txn_id":%q,"state":"pending","participants":[{"namespace":"default","key":%q},{"namespace":"default","key":%q,"backend_hash":%q}]}`,
		hA.TxnID, kA, kB, is.hashB))
	if err != nil || st != 200 {
		t.Fatalf("enlist B's key at A's TC: %d %s %v", st, body, err)
	}
	return hA, hB
}

func (is *islands) states(t *testing.T, kA, kB string) (string, string) {
	return publicState(t, is.a.URL, kA), publicState(t, is.b.Nodes[0].URL, kB)
}

// free waits until key can be acquired (and releases it again): its
// transaction's lease is gone.
func free(t *testing.T, base, key string) {
	t.Helper()
	waitFor(t, key+" free again", func() bool {
		h, err := acquireKey(base, key)
		if err != nil {
			return false
		}
		h.release(base)
		return true
	})
}

// A transaction spans a key on a disk node and a key on an S3 cluster
// (two islands): the commit, decided by the disk node's TC when the
// client releases its key, reaches B's key through B's registered RM;
// a rollback leaves both untouched. Both are all-or-nothing.
func TestCrossIslandTxnCommitAndRollback(t *testing.T) {
	is := startIslands(t)
	kB, _ := keyOwnedBy(t, is.b, is.ownerB, "isl-b")
	kA := "isl-a"

	hA := is.begin(t, kA, kB, 1)
	if err := hA.release(is.a.URL); err != nil {
		t.Fatalf("commit across islands: %v", err)
	}
	waitFor(t, "both islands committed", func() bool {
		a, b := is.states(t, kA, kB)
		return a == `{"v":1}` && b == `{"v":1}`
	})
	free(t, is.b.Nodes[1].URL, kB)

	hA = is.begin(t, kA, kB, 2)
	st, body, err := post(is.a.URL, "/v1/release", api.ReleaseRequest{Key: hA.Key, LeaseID: hA.LeaseID, TxnID: hA.TxnID, Rollback: true},
		api.HeaderFencingToken, strconv.FormatInt(hA.FencingToken, 10))
	if err != nil || st != 200 {
		t.Fatalf("rollback across islands: %d %s %v", st, body, err)
	}
	free(t, is.b.Nodes[1].URL, kB)
	free(t, is.a.URL, kA)
	if a, b := is.states(t, kA, kB); a != `{"v":1}` || b != `{"v":1}` {
		t.Fatalf("after the rollback: A %s, B %s, want the first commit on both", a, b)
	}
}

// The disk node (island A's TC) is killed -9 after it recorded a commit
// and before its fan-out; restarted on its directory, it replays the
// decision and island B's key commits too.
func TestCrossIslandTxnCoordinatorKilledAfterDecision(t *testing.T) {
	is := startIslands(t, "LOCKD_FAILPOINT=txn-after-decision")
	kB, _ := keyOwnedBy(t, is.b, is.ownerB, "islk-b")
	kA := "islk-a"
	hA := is.begin(t, kA, kB, 3)
	hA.release(is.a.URL) // the TC dies while deciding: the answer is an error
	waitFor(t, "the TC died at the failpoint", func() bool { return !is.a.Running() })
	if _, err := os.Stat(is.aDir); err != nil {
		t.Fatal(err)
	}
	if b := publicState(t, is.b.Nodes[0].URL, kB); b != "" {
		t.Fatalf("island B applied before the fan-out: %q", b)
	}
	is.a = testcluster.StartNode(t, lockdBin, nil, "--store", "disk://"+is.aDir)
	waitFor(t, "both islands committed by the restarted TC's replay", func() bool {
		a, b := is.states(t, kA, kB)
		return a == `{"v":3}` && b == `{"v":3}`
	})
}

// Island A's TC prepares B's key, records the commit and dies before its
// fan-out; B's lease on the key lapses while A is down. B voted yes to A's
// prepare, so B must not settle the key on its own (B's coordinator knows
// the transaction only as a pending record of its own): the key stays held,
// nobody else gets it, and the restarted A's replay commits it with A's
// key. Before the fix B's coordinator rolled the lapsed participant back
// (its expiry, or its replay loop finding the lease gone) and A's commit
// later found nothing to apply on B: a torn transaction.
func TestCrossIslandTxnParticipantLapsesWhileCoordinatorIsDown(t *testing.T) {
	is := startIslands(t, "LOCKD_FAILPOINT=txn-after-decision")
	kB, _ := keyOwnedBy(t, is.b, is.ownerB, "isll-b")
	kA := "isll-a"
	hA, hB := is.beginTTL(t, kA, kB, 4, 2)
	hA.release(is.a.URL) // the TC dies while deciding: the answer is an error
	waitFor(t, "the TC died at the failpoint", func() bool { return !is.a.Running() })
	waitFor(t, "B's lease on "+kB+" lapsed", func() bool { return time.Now().Unix() > hB.ExpiresAtUnix+1 })
	// Every acquire of kB notices the lapsed lease; B's replay loop (every
	// 5 s) prepares its own pending record of the transaction meanwhile.
	// Neither may hand the key to another client or roll it back.
	until := time.Now().Add(7 * time.Second)
	for time.Now().Before(until) {
		for _, n := range is.b.Nodes {
			st, body, err := post(n.URL, "/v1/acquire", api.AcquireRequest{Key: kB, Owner: "intruder", TTLSeconds: 30, BlockSeconds: -1})
			if err == nil && st == 200 {
				t.Fatalf("another client got %s through %s while its transaction's commit was not applied: %s", kB, n.ID, body)
			}
		}
		if b := publicState(t, is.b.Nodes[0].URL, kB); b != "" {
			t.Fatalf("island B changed %s before A's decision reached it: %q", kB, b)
		}
		time.Sleep(200 * time.Millisecond) // a steady stream of attempts over the window, not a wait for a condition
	}
	is.a = testcluster.StartNode(t, lockdBin, nil, "--store", "disk://"+is.aDir)
	waitFor(t, "both islands committed by the restarted TC's replay", func() bool {
		a, b := is.states(t, kA, kB)
		return a == `{"v":4}` && b == `{"v":4}`
	})
}
