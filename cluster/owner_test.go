package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The same members in any order pick the same owner.
func TestOwnerIndependentOfOrder(t *testing.T) {
	ids := []string{"d0a1", "c9f3", "b77e", "a002", "e4e4"}
	for i := 0; i < 500; i++ {
		key := fmt.Sprint("key-", i)
		want := ids[Owner(ids, KindKey, "default", key)]
		shuffled := slices.Clone(ids)
		rand.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got := shuffled[Owner(shuffled, KindKey, "default", key)]; got != want {
			t.Fatalf("%s: owner %s in one order, %s in another", key, want, got)
		}
	}
}

// Pinned owners: a change of hash or weight function would move every key
// of a running cluster whose nodes run different versions.
func TestOwnerTable(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	cases := []struct {
		kind      Kind
		ns, name  string
		wantOwner string
	}{
		{KindKey, "default", "orders", "n1"},
		{KindKey, "default", "acct/a", "n3"},
		{KindQueue, "default", "orders", "n2"},
		{KindKey, "work", "orders", "n2"},
	}
	for _, c := range cases {
		if got := ids[Owner(ids, c.kind, c.ns, c.name)]; got != c.wantOwner {
			t.Errorf("%c %s/%s: owner %s, want %s", c.kind, c.ns, c.name, got, c.wantOwner)
		}
	}
	if Owner(nil, KindKey, "default", "x") != -1 {
		t.Fatal("an empty member list owns nothing")
	}
	if Owner([]string{"solo"}, KindKey, "default", "x") != 0 {
		t.Fatal("a single member owns everything")
	}
}

// Keys spread evenly, and removing a member moves only its own keys
// (rendezvous hashing's minimal disruption).
func TestOwnerSpreadAndMinimalMoves(t *testing.T) {
	ids := []string{"cq1", "cq2", "cq3", "cq4"}
	const n = 20000
	count := map[string]int{}
	before := make([]string, n)
	for i := 0; i < n; i++ {
		o := ids[Owner(ids, KindKey, "ns", fmt.Sprint(i))]
		before[i] = o
		count[o]++
	}
	for _, id := range ids {
		if c := count[id]; c < n/4*85/100 || c > n/4*115/100 {
			t.Fatalf("uneven spread: %v", count)
		}
	}
	rest := []string{"cq1", "cq2", "cq4"}
	for i := 0; i < n; i++ {
		o := rest[Owner(rest, KindKey, "ns", fmt.Sprint(i))]
		if before[i] != "cq3" && o != before[i] {
			t.Fatalf("key %d moved from %s to %s although its owner stayed", i, before[i], o)
		}
	}
}

// Keys and queues of the same name are placed independently, and so are
// equal names in different namespaces.
func TestOwnerSeparatesKindsAndNamespaces(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	sameKind, sameNS := 0, 0
	for i := 0; i < 1000; i++ {
		name := fmt.Sprint("x", i)
		k := Owner(ids, KindKey, "ns", name)
		if k == Owner(ids, KindQueue, "ns", name) {
			sameKind++
		}
		if k == Owner(ids, KindKey, "ns2", name) {
			sameNS++
		}
		// "a\x00b" style collisions: the separator keeps (ns, name) apart.
		if refHash(KindKey, "a", "b/c") == refHash(KindKey, "a/b", "c") {
			t.Fatal("namespace and name run together")
		}
	}
	if sameKind > 250 || sameNS > 250 {
		t.Fatalf("placements correlated: %d same across kinds, %d across namespaces (of 1000, expect ~125)", sameKind, sameNS)
	}
}

func TestOwnerOfMatchesOwner(t *testing.T) {
	ids := []string{"x1", "x2", "x3"}
	hashes := []uint64{idHash("x1"), idHash("x2"), idHash("x3")}
	for i := 0; i < 200; i++ {
		name := fmt.Sprint(i)
		if Owner(ids, KindQueue, "q", name) != ownerOf(ids, hashes, KindQueue, "q", name) {
			t.Fatal("ownerOf disagrees with Owner")
		}
	}
}

func TestDeriveKey(t *testing.T) {
	a, err := DeriveKey([]byte("secret"))
	if err != nil || len(a) != KeySize {
		t.Fatalf("derive: %v %d", err, len(a))
	}
	b, _ := DeriveKey([]byte("secret"))
	c, _ := DeriveKey([]byte("other"))
	if string(a) != string(b) || string(a) == string(c) {
		t.Fatal("derivation not deterministic or not secret-dependent")
	}
	if _, err := DeriveKey(nil); err != ErrNoSecret {
		t.Fatalf("empty secret: %v", err)
	}
}
