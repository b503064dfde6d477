package tc

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store/mem"
)

func TestClaim(t *testing.T) {
	now := time.Unix(1000, 0)
	live := Leader{ID: "a", Endpoint: "http://a", Term: 4, ExpiresMs: now.Add(time.Second).UnixMilli()}
	expired := live
	expired.ExpiresMs = now.Add(-time.Millisecond).UnixMilli()
	released := live
	released.ExpiresMs = 0
	for _, tc := range []struct {
		name     string
		cur      Leader
		cand     string
		alive    bool
		granted  bool
		wantTerm uint64
		wantID   string
	}{
		{"empty store", Leader{}, "a", true, true, 1, "a"},
		{"holder renews", live, "a", true, true, 4, "a"},
		{"other waits for a live holder", live, "b", true, false, 4, "a"},
		{"other takes an expired lease", expired, "b", true, true, 5, "b"},
		{"holder retakes its expired lease in a new term", expired, "a", true, true, 5, "a"},
		{"other takes a released lease", released, "b", true, true, 5, "b"},
		{"other takes a dead holder's lease", live, "b", false, true, 5, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, ok := claim(tc.cur, now, tc.cand, "http://"+tc.cand, 10*time.Second, tc.alive)
			if ok != tc.granted || next.Term != tc.wantTerm || next.ID != tc.wantID {
				t.Fatalf("claim = %+v %v, want granted=%v term=%d id=%s", next, ok, tc.granted, tc.wantTerm, tc.wantID)
			}
		})
	}
}

func TestElectorTermsNeverShared(t *testing.T) {
	st := mem.New()
	clk := clock.NewFake(time.Unix(1000, 0))
	alive := map[string]bool{}
	var mu sync.Mutex
	isAlive := func(id string) bool { mu.Lock(); defer mu.Unlock(); return alive[id] }
	var es []*Elector
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("n%d", i)
		alive[id] = true
		es = append(es, NewElector(Config{Store: st, ID: id, Endpoint: "http://" + id, TTL: 3 * time.Second, Alive: isAlive, Clock: clk}))
	}
	ctx := context.Background()
	winners := map[uint64]string{}
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		for _, e := range es {
			wg.Add(1)
			go func() { defer wg.Done(); e.Step(ctx) }()
		}
		wg.Wait()
		leaders := 0
		for _, e := range es {
			if term, ok := e.Leading(); ok {
				leaders++
				if w, seen := winners[term]; seen && w != e.ID() {
					t.Fatalf("term %d won by %s and %s", term, w, e.ID())
				}
				winners[term] = e.ID()
			}
		}
		if leaders != 1 {
			t.Fatalf("round %d: %d leaders", round, leaders)
		}
		// Kill the leader every other round, let the lease run out on
		// the others.
		if round%2 == 0 {
			l := es[0].Leader()
			mu.Lock()
			alive[l.ID] = false
			mu.Unlock()
			clk.Advance(4 * time.Second)
			mu.Lock()
			alive[l.ID] = true
			mu.Unlock()
		}
	}
	if len(winners) < 5 {
		t.Fatalf("only %d terms over 20 rounds with failovers", len(winners))
	}
}

func TestElectorReleaseAndRenew(t *testing.T) {
	st := mem.New()
	clk := clock.NewFake(time.Unix(1000, 0))
	a := NewElector(Config{Store: st, ID: "a", Endpoint: "http://a", Clock: clk})
	b := NewElector(Config{Store: st, ID: "b", Endpoint: "http://b", Clock: clk})
	ctx := context.Background()
	l, err := a.Step(ctx)
	if err != nil || l.ID != "a" || l.Term != 1 {
		t.Fatalf("a step = %+v %v", l, err)
	}
	if ok, _, _ := b.Renew(ctx, "b", 1, 0); ok {
		t.Fatal("b renewed a lease it does not hold")
	}
	if ok, _, _ := a.Renew(ctx, "a", 1, 0); !ok {
		t.Fatal("a could not renew")
	}
	if l, _ := b.Step(ctx); l.ID != "a" {
		t.Fatalf("b took a live lease: %+v", l)
	}
	if ok, err := a.Release(ctx, "a", 1); !ok || err != nil {
		t.Fatalf("release = %v %v", ok, err)
	}
	if _, ok := a.Leading(); ok {
		t.Fatal("a still leads after release")
	}
	if l, _ := b.Step(ctx); l.ID != "b" || l.Term != 2 {
		t.Fatalf("b after release = %+v", l)
	}
	if ok, _, _ := a.Renew(ctx, "a", 1, 0); ok {
		t.Fatal("a renewed a stale term")
	}
	cur, err := a.Current(ctx)
	if err != nil || cur.Term != 2 || cur.ID != "b" {
		t.Fatalf("current = %+v %v", cur, err)
	}
}

func TestRegistryConcurrentEdits(t *testing.T) {
	st := mem.New()
	regs := []*Registry{NewRegistry(st, nil), NewRegistry(st, nil), NewRegistry(st, nil)}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := regs[i%3].Register(ctx, "h", fmt.Sprintf("http://n%02d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eps, err := regs[0].Endpoints(ctx, "h")
	if err != nil || len(eps) != 30 {
		t.Fatalf("endpoints = %d %v, want 30", len(eps), err)
	}
	if _, err := regs[1].Unregister(ctx, "h", "http://n03"); err != nil {
		t.Fatal(err)
	}
	bs, _ := regs[2].List(ctx)
	if len(bs) != 1 || len(bs[0].Endpoints) != 29 {
		t.Fatalf("list = %+v", bs)
	}
}

func TestMembersLeases(t *testing.T) {
	st := mem.New()
	clk := clock.NewFake(time.Unix(1000, 0))
	m := NewMembers(st, clk, 5*time.Second)
	ctx := context.Background()
	m.Announce(ctx, "a", "http://a")
	clk.Advance(3 * time.Second)
	eps, _, _ := m.Announce(ctx, "http://b/x", "http://b")
	if len(eps) != 2 {
		t.Fatalf("eps = %v", eps)
	}
	clk.Advance(3 * time.Second)
	if eps, _, _ := m.List(ctx); len(eps) != 1 || eps[0] != "http://b" {
		t.Fatalf("after a's lease ran out: %v", eps)
	}
	if eps, _ := m.Leave(ctx, "http://b/x"); len(eps) != 0 {
		t.Fatalf("after leave: %v", eps)
	}
}
