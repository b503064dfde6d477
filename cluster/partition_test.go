package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/gossiprelay"
)

// relayedNode is a node whose gossip binds on a loopback address of its
// own and is advertised at a relay of gn, with a member-list endpoint
// (the evidence of self-fencing) at its Self URL.
type relayedNode struct {
	c     *Cluster
	host  string
	relay *gossiprelay.Relay
	// hold makes its member-list endpoint answer 503 (a peer whose API
	// does not answer).
	hold *atomic.Bool
}

func freePort(t *testing.T, host string) int {
	t.Helper()
	p, err := gossiprelay.FreePort(host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startRelayed(t *testing.T, gn *gossiprelay.Net, host string, join ...string) *relayedNode {
	t.Helper()
	return startRelayedGrace(t, gn, host, testGrace, join...)
}

func startRelayedGrace(t *testing.T, gn *gossiprelay.Net, host string, grace time.Duration, join ...string) *relayedNode {
	t.Helper()
	bind := net.JoinHostPort(host, strconv.Itoa(freePort(t, host)))
	r, err := gossiprelay.Start(gn, "127.0.0.1:0", bind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var cp atomic.Pointer[Cluster]
	hold := new(atomic.Bool)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c := cp.Load()
		if c == nil || hold.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		type member struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Self  bool   `json:"self"`
		}
		var out struct {
			Members []member `json:"members"`
		}
		for _, m := range c.Members() {
			out.Members = append(out.Members, member{ID: m.ID, State: string(m.State), Self: m.Self})
		}
		json.NewEncoder(w).Encode(out)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := Start(Config{Self: "http://" + ln.Addr().String(), Listen: bind, Advertise: r.Addr(), Join: join,
		Version: "test", JoinRetry: 200 * time.Millisecond, HandoffGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	cp.Store(c)
	t.Cleanup(func() { c.Abort() })
	return &relayedNode{c: c, host: host, relay: r, hold: hold}
}

// startThree starts three relayed nodes with the hand-off grace given,
// the others joining the first, and waits until each sees the three and
// serves.
func startThree(t *testing.T, gn *gossiprelay.Net, grace time.Duration, hosts ...string) []*relayedNode {
	t.Helper()
	a := startRelayedGrace(t, gn, hosts[0], grace)
	nodes := []*relayedNode{a,
		startRelayedGrace(t, gn, hosts[1], grace, a.relay.Addr()),
		startRelayedGrace(t, gn, hosts[2], grace, a.relay.Addr())}
	if !within(30*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.c.Live()) != 3 || !n.c.Serving() {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the three nodes did not all see each other and serve")
	}
	return nodes
}

// testGrace is the hand-off grace of the relayed nodes.
const testGrace = 300 * time.Millisecond

// within polls cond every 10 ms until it holds or d passes.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func liveIDs(c *Cluster) map[string]bool {
	out := map[string]bool{}
	for _, m := range c.Live() {
		out[m.ID] = true
	}
	return out
}

// A node cut off the gossip network in both directions (its relay and
// its own packets and streams) stops serving its refs before the others
// declare it dead and take them over; the others keep serving. When the
// cut ends the node rejoins by itself, the others see it alive again and
// it serves again.
func TestPartitionedNodeFencesThenRejoins(t *testing.T) {
	gn := gossiprelay.NewNet()
	a := startRelayed(t, gn, "127.0.0.41")
	if a.c.Self().Gossip != a.relay.Addr() {
		t.Fatalf("gossip address %s, want the advertised %s", a.c.Self().Gossip, a.relay.Addr())
	}
	b := startRelayed(t, gn, "127.0.0.42", a.relay.Addr())
	c := startRelayed(t, gn, "127.0.0.43", a.relay.Addr())
	nodes := []*relayedNode{a, b, c}
	allServe := func() bool {
		for _, n := range nodes {
			if len(n.c.Live()) != 3 || !n.c.Serving() {
				return false
			}
		}
		return true
	}
	if !within(20*time.Second, allServe) {
		t.Fatal("the three nodes did not all see each other and serve")
	}
	for _, m := range b.c.Members() {
		if m.ID == a.c.Self().ID && m.Gossip != a.relay.Addr() {
			t.Fatalf("b reaches a at %s, not at its advertised %s", m.Gossip, a.relay.Addr())
		}
	}

	cut := time.Now()
	gn.Cut(a.host, true)
	var fenced, declared time.Duration
	ok := within(30*time.Second, func() bool {
		if fenced == 0 && !a.c.Serving() {
			fenced = time.Since(cut)
		}
		if declared == 0 && (!liveIDs(b.c)[a.c.Self().ID] || !liveIDs(c.c)[a.c.Self().ID]) {
			declared = time.Since(cut)
		}
		return fenced > 0 && declared > 0
	})
	if !ok {
		t.Fatalf("after the cut: a fenced after %v, a declared dead after %v", fenced, declared)
	}
	t.Logf("cut: a stopped serving after %v, the others declared it dead after %v (fence after %v)", fenced, declared, a.c.FenceAfter())
	if fenced >= declared {
		t.Fatalf("a served until %v, after the others declared it dead at %v", fenced, declared)
	}
	if !b.c.Serving() || !c.c.Serving() {
		t.Fatal("the majority side stopped serving")
	}
	if !within(15*time.Second, func() bool { return len(a.c.Live()) == 1 && len(b.c.Live()) == 2 && len(c.c.Live()) == 2 }) {
		t.Fatalf("views during the cut: a %d, b %d, c %d", len(a.c.Live()), len(b.c.Live()), len(c.c.Live()))
	}
	if a.c.Serving() {
		t.Fatal("the cut node serves as a majority of one")
	}

	healed := time.Now()
	gn.Cut(a.host, false)
	if !within(30*time.Second, allServe) {
		t.Fatalf("no rejoin: a serving %v sees %d, b sees %d, c sees %d", a.c.Serving(), len(a.c.Live()), len(b.c.Live()), len(c.c.Live()))
	}
	t.Logf("healed: all three serve again after %v", time.Since(healed))
	for _, n := range nodes {
		if !liveIDs(n.c)[a.c.Self().ID] {
			t.Fatalf("%s does not see a (same id) alive", n.c.Self().ID)
		}
	}
}

// A node that joins a running cluster does not serve the refs it owns
// until every member lists it alive (before that, a member that has not
// heard of it still serves some of them), and then only after the
// hand-off grace. Here one member's API stops answering: the joiner
// waits for it, while the others see the joiner at once.
func TestJoinerTakesOverOnlyOnceEveryMemberSeesIt(t *testing.T) {
	gn := gossiprelay.NewNet()
	nodes := startThree(t, gn, testGrace, "127.0.0.44", "127.0.0.45", "127.0.0.46")
	a, b, c := nodes[0], nodes[1], nodes[2]
	c.hold.Store(true)
	d := startRelayed(t, gn, "127.0.0.47", a.relay.Addr())
	dID := d.c.Self().ID
	if !within(20*time.Second, func() bool {
		return len(d.c.Live()) == 4 && liveIDs(a.c)[dID] && liveIDs(b.c)[dID] && liveIDs(c.c)[dID]
	}) {
		t.Fatal("the joiner and the others did not see each other")
	}
	// Several evidence rounds (FenceAfter/5 each) with c silent.
	deadline := time.Now().Add(d.c.FenceAfter())
	for time.Now().Before(deadline) {
		if d.c.Serving() {
			t.Fatal("the joiner serves its refs although c has not shown it alive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !d.c.Settling() {
		t.Fatal("the joiner, with a quorum by now, is not settling")
	}
	released := time.Now()
	c.hold.Store(false)
	if !d.c.AwaitServing(10 * time.Second) {
		t.Fatal("the joiner did not take its refs over once c answered")
	}
	if took := time.Since(released); took < testGrace {
		t.Fatalf("the joiner served %v after c answered, before the grace of %v", took, testGrace)
	}
	for _, n := range nodes {
		if !liveIDs(n.c)[dID] {
			t.Fatalf("the joiner serves while %s does not list it", n.c.Self().ID)
		}
	}
}

// movedAndStayed returns a key in namespace "ns" that gone owns (it moves
// when gone leaves or dies) and one that a owns (it stays).
func movedAndStayed(a *relayedNode, gone string) (moved, stayed string) {
	for i := 0; moved == "" || stayed == ""; i++ {
		k := fmt.Sprint("k", i)
		o, _ := a.c.Owner(KindKey, "ns", k)
		switch o.ID {
		case gone:
			moved = k
		case a.c.Self().ID:
			stayed = k
		}
	}
	return moved, stayed
}

// A node that leaves gracefully serves nothing from the moment it begins
// to leave, and the refs it owned are served by their new owners only a
// hand-off grace after they heard it leave: it may still be answering
// requests it had in flight. Refs that did not move wait for nothing.
func TestGracefulLeaveHoldsTheLeaversRefsForTheGrace(t *testing.T) {
	const grace = 3 * time.Second
	gn := gossiprelay.NewNet()
	nodes := startThree(t, gn, grace, "127.0.0.48", "127.0.0.49", "127.0.0.50")
	a, b, c := nodes[0], nodes[1], nodes[2]
	cID := c.c.Self().ID
	moved, stayed := movedAndStayed(a, cID)
	if err := c.c.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if c.c.Serving() || !c.c.Leaving() || c.c.Settling() {
		t.Fatal("a node that left still serves")
	}
	if !within(10*time.Second, func() bool { return !liveIDs(a.c)[cID] && !liveIDs(b.c)[cID] }) {
		t.Fatal("a and b did not hear c leave")
	}
	heard := time.Now()
	heirWaits(t, a, b, moved, stayed, grace, heard)
}

// heirWaits checks that the node of a and b that owns moved now waits
// (0, bound] before serving it, that a serves stayed at once, and that
// the wait is over after bound.
func heirWaits(t *testing.T, a, b *relayedNode, moved, stayed string, bound time.Duration, heard time.Time) {
	t.Helper()
	heir := a
	if o, _ := a.c.Owner(KindKey, "ns", moved); o.ID == b.c.Self().ID {
		heir = b
	}
	if d := heir.c.HandoffWait(KindKey, "ns", moved); d <= 0 || d > bound {
		t.Fatalf("the heir of the moved key waits %v, want (0, %v] (%v after its owner went)", d, bound, time.Since(heard))
	}
	if d := a.c.HandoffWait(KindKey, "ns", stayed); d != 0 {
		t.Fatalf("a key that did not move waits %v", d)
	}
	time.Sleep(bound)
	if d := heir.c.HandoffWait(KindKey, "ns", moved); d != 0 {
		t.Fatalf("the heir still waits %v after %v", d, bound)
	}
}

// The refs of a member declared dead wait FenceAfter on their new owners:
// the death may have been gossiped by another node (one back from a
// partition relays the deaths it declared while cut off) about a member
// that is alive and serving until it refutes it or fences itself. Refs
// that did not move wait for nothing.
func TestDeadMembersRefsWaitForItsFence(t *testing.T) {
	gn := gossiprelay.NewNet()
	nodes := startThree(t, gn, testGrace, "127.0.0.51", "127.0.0.52", "127.0.0.53")
	a, b, c := nodes[0], nodes[1], nodes[2]
	cID := c.c.Self().ID
	moved, stayed := movedAndStayed(a, cID)
	gn.Cut(c.host, true)
	if !within(30*time.Second, func() bool { return !liveIDs(a.c)[cID] && !liveIDs(b.c)[cID] }) {
		t.Fatal("a and b did not declare c dead")
	}
	heirWaits(t, a, b, moved, stayed, a.c.FenceAfter(), time.Now())
}
