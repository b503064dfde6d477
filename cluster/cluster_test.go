package cluster

import (
	"fmt"
	"testing"
	"time"
)

func startNode(t *testing.T, key []byte, join ...string) *Cluster {
	t.Helper()
	c, err := Start(Config{Self: fmt.Sprintf("http://127.0.0.1:%d", 10000+len(join)), Listen: "127.0.0.1:0",
		Join: join, Key: key, Version: "test", Roles: []string{"kv"}, JoinRetry: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Abort() })
	return c
}

// waitLive waits until c sees n owning members.
func waitLive(t *testing.T, c *Cluster, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for len(c.Live()) != n {
		select {
		case <-c.Changed():
		case <-deadline:
			t.Fatalf("%s sees %d live members, want %d", c.Self().ID, len(c.Live()), n)
		}
	}
}

// Three nodes over real UDP/TCP on loopback agree on the members and on
// every owner; a graceful leave moves the leaver's refs at once.
func TestThreeNodesAgreeOnOwners(t *testing.T) {
	key, _ := DeriveKey([]byte("shared"))
	a := startNode(t, key)
	b := startNode(t, key, a.Self().Gossip)
	c := startNode(t, key, a.Self().Gossip)
	for _, n := range []*Cluster{a, b, c} {
		waitLive(t, n, 3)
		if !n.Ready() {
			deadline := time.Now().Add(5 * time.Second)
			for !n.Ready() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !n.Ready() {
				t.Fatalf("%s not ready", n.Self().ID)
			}
		}
	}
	owned := map[string]int{}
	for i := 0; i < 300; i++ {
		name := fmt.Sprint("k", i)
		oa, _ := a.Owner(KindKey, "ns", name)
		ob, _ := b.Owner(KindKey, "ns", name)
		oc, _ := c.Owner(KindKey, "ns", name)
		if oa.ID != ob.ID || ob.ID != oc.ID {
			t.Fatalf("%s: owners %s %s %s", name, oa.ID, ob.ID, oc.ID)
		}
		owned[oa.ID]++
		if a.Owns(KindKey, "ns", name) != (oa.ID == a.Self().ID) {
			t.Fatal("Owns disagrees with Owner")
		}
	}
	if len(owned) != 3 {
		t.Fatalf("owners %v", owned)
	}
	for _, m := range b.Members() {
		if m.Endpoint == "" || m.Version != "test" || len(m.Roles) != 1 || m.State != StateAlive {
			t.Fatalf("member %+v", m)
		}
	}
	ch := a.Changed()
	if err := c.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no change after a member left")
	}
	waitLive(t, a, 2)
	left := false
	for _, m := range a.Members() {
		if m.ID == c.Self().ID && m.State == StateLeft {
			left = true
		}
	}
	if !left {
		t.Fatalf("leaver not shown as left: %+v", a.Members())
	}
	for i := 0; i < 100; i++ {
		if o, _ := a.Owner(KindKey, "ns", fmt.Sprint("k", i)); o.ID == c.Self().ID {
			t.Fatal("a departed member still owns keys")
		}
	}
}

// A node without the cluster's secret cannot join, and one with another
// secret neither: it stays alone and not ready, and the cluster never
// lists it.
func TestJoinNeedsTheKey(t *testing.T) {
	key, _ := DeriveKey([]byte("shared"))
	other, _ := DeriveKey([]byte("another bundle"))
	a := startNode(t, key)
	for _, k := range [][]byte{nil, other} {
		x := startNode(t, k, a.Self().Gossip)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if x.Ready() || len(x.Live()) > 1 || len(a.Live()) > 1 {
				t.Fatalf("a node with key %x joined", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A node that is one of its own seeds starts the cluster alone and is
// ready at once.
func TestBootstrapSeedIsReady(t *testing.T) {
	c, err := Start(Config{Self: "http://127.0.0.1:1", Listen: "127.0.0.1:0", Join: []string{"http://127.0.0.1:1/"}, JoinRetry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("bootstrap node never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if o, ok := c.Owner(KindKey, "ns", "k"); !ok || !o.Self {
		t.Fatalf("owner %+v %v", o, ok)
	}
}
