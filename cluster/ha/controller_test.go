package ha

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// node is a controller under test with its callbacks as channels.
type node struct {
	*Controller
	active chan struct{}
	lost   chan error
}

func startNode(t *testing.T, st store.Backend, clk *clock.Fake, id string, mode Mode, p Prober) (*node, Role, error) {
	t.Helper()
	n := &node{active: make(chan struct{}, 1), lost: make(chan error, 1)}
	c, err := New(st, Config{Mode: mode, Clock: clk, Prober: p, Node: NodeInfo{ID: id, Endpoint: "http://" + id},
		OnActive: func() { n.active <- struct{}{} }, OnLost: func(err error) { n.lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	n.Controller = c
	role, err := c.Start(context.Background())
	if err == nil && role == Active {
		c.Ready()
	}
	return n, role, err
}

// halt stops the node as kill -9 would: no more ticks, nothing released.
func (n *node) halt() {
	n.mu.Lock()
	n.closed = true
	n.timer.Stop()
	n.mu.Unlock()
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func newClock() *clock.Fake { return clock.NewFake(time.Unix(1_800_000_000, 0)) }

func TestControllerFailoverTakesOverWithinTTL(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, role, err := startNode(t, st, clk, "a", Failover, deadSet{})
	if err != nil || role != Active || !a.Serving() {
		t.Fatalf("first node: %s %v serving=%v", role, err, a.Serving())
	}
	b, role, err := startNode(t, st, clk, "b", Failover, deadSet{})
	if err != nil || role != Passive || b.Serving() || b.Leader() != "http://a" {
		t.Fatalf("second node: %s %v serving=%v leader=%q", role, err, b.Serving(), b.Leader())
	}
	tm := a.Timings()
	for i := 0; i < 100; i++ { // a renews: b stays passive
		clk.Advance(tm.Poll)
		if !a.Serving() || b.Role() != Passive {
			t.Fatalf("round %d: a serving=%v b=%s", i, a.Serving(), b.Role())
		}
	}
	lv, _ := ReadLease(context.Background(), st)
	a.halt()
	var took time.Duration
	for took = 0; took <= DefaultLeaseTTL && b.Role() != Active; took += tm.Poll {
		clk.Advance(tm.Poll)
		if a.Serving() && b.Role() == Active {
			t.Fatal("both serve")
		}
	}
	if b.Role() != Active || took > DefaultLeaseTTL {
		t.Fatalf("b is %s %s after a died", b.Role(), took)
	}
	wait(t, b.active, "OnActive")
	if b.Serving() {
		t.Fatal("b serves before Ready")
	}
	b.Ready()
	after, _ := ReadLease(context.Background(), st)
	if !b.Serving() || after.Rec.Holder.ID != "b" || after.Rec.Term != lv.Rec.Term+1 {
		t.Fatalf("after takeover: serving=%v lease %+v (before: term %d)", b.Serving(), after.Rec, lv.Rec.Term)
	}
	t.Logf("takeover %s after the holder's death (lease TTL %s)", took, DefaultLeaseTTL)
}

func TestControllerCloseReleasesForImmediateTakeover(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, _, _ := startNode(t, st, clk, "a", Failover, deadSet{})
	b, _, _ := startNode(t, st, clk, "b", Failover, deadSet{})
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Serving() {
		t.Fatal("a closed node serves")
	}
	clk.Advance(a.Timings().Poll)
	if b.Role() != Active {
		t.Fatalf("b is %s one poll after a released", b.Role())
	}
	if _, err := st.Get(context.Background(), MemberKey("a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a's member record after Close: %v", err)
	}
}

func TestControllerRestartOnSameMachineReclaimsAtOnce(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, _, _ := startNode(t, st, clk, "a", Failover, deadSet{})
	a.halt()
	b, role, err := startNode(t, st, clk, "b", Failover, deadSet{"a": true})
	if err != nil || role != Active || !b.Serving() {
		t.Fatalf("restart after a proven-dead holder: %s %v", role, err)
	}
}

func TestControllerLostWhenLeaseTakenCallsOnLost(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, _, _ := startNode(t, st, clk, "a", Failover, deadSet{})
	// Someone overwrites the lease (a pause longer than the TTL would do).
	lv, _ := ReadLease(context.Background(), st)
	r := lv.Rec
	r.Holder, r.Term, r.Nonce = NodeInfo{ID: "z"}, r.Term+1, "z1"
	if _, err := st.Put(context.Background(), LeaseKey, encode(r), store.Cond{IfMatch: lv.ETag}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && a.Role() != Lost; i++ {
		clk.Advance(a.Timings().Poll)
	}
	err := wait(t, a.lost, "OnLost")
	if a.Serving() || err == nil {
		t.Fatalf("lost node: serving=%v err=%v", a.Serving(), err)
	}
}

func TestControllerAutoPromotesWhenAPeerAppears(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, role, _ := startNode(t, st, clk, "a", Auto, deadSet{})
	lv, _ := ReadLease(context.Background(), st)
	if role != Active || lv.Rec.Mode != "single" {
		t.Fatalf("auto alone: %s lease %+v", role, lv.Rec)
	}
	tm := a.Timings()
	clk.Advance(tm.Heartbeat * 2)
	if lv, _ := ReadLease(context.Background(), st); lv.Rec.Mode != "single" {
		t.Fatalf("auto alone changed mode: %+v", lv.Rec)
	}
	b, role, _ := startNode(t, st, clk, "b", Auto, deadSet{})
	if role != Passive {
		t.Fatalf("second auto node is %s", role)
	}
	clk.Advance(tm.Heartbeat + tm.Renew)
	if lv, _ := ReadLease(context.Background(), st); lv.Rec.Mode != "failover" || lv.Rec.Holder.ID != "a" {
		t.Fatalf("not promoted after a peer appeared: %+v", lv.Rec)
	}
	if !a.Serving() || b.Serving() {
		t.Fatalf("after promotion: a serving=%v b serving=%v", a.Serving(), b.Serving())
	}
}

func TestControllerSingleFencesSecondNode(t *testing.T) {
	st, clk := mem.New(), newClock()
	a, role, err := startNode(t, st, clk, "a", Single, deadSet{})
	if err != nil || role != Active || !a.Serving() {
		t.Fatalf("single: %s %v", role, err)
	}
	if _, _, err := startNode(t, st, clk, "b", Single, deadSet{}); !errors.Is(err, ErrFenced) {
		t.Fatalf("second single node: %v", err)
	}
	// A failover node started by mistake stays passive behind it.
	f, role, _ := startNode(t, st, clk, "f", Failover, deadSet{})
	clk.Advance(time.Minute)
	if role != Passive || f.Role() != Passive || !a.Serving() {
		t.Fatalf("failover node next to a single one: %s %s", role, f.Role())
	}
	// A single node restarted on the same machine replaces its dead self.
	a.halt()
	if _, role, err := startNode(t, st, clk, "a2", Single, deadSet{"a": true}); err != nil || role != Active {
		t.Fatalf("restart of a dead single node: %s %v", role, err)
	}
}

func TestControllerSingleRefusesAgainstLiveFailoverLease(t *testing.T) {
	st, clk := mem.New(), newClock()
	startNode(t, st, clk, "a", Failover, deadSet{})
	_, _, err := startNode(t, st, clk, "s", Single, deadSet{})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("single next to a failover holder: %v", err)
	}
	t.Log(err)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Mode: "FAILOVER", LeaseTTL: 5 * time.Second}, true},
		{Config{LeaseTTL: 4 * time.Second}, false},
		{Config{Mode: "primary"}, false},
		{Config{PresenceTTL: time.Second}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.cfg, err)
		} else if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v is not ErrInvalidConfig", tc.cfg, err)
		}
	}
}
