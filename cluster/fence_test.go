package cluster

import (
	"testing"
	"time"
)

func TestQuorumUntil(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Second) }
	const after = 2 * time.Second
	cases := []struct {
		name   string
		self   string
		set    []string
		seen   map[string]time.Time
		want   time.Time // zero with ok: no quorum at any time
		needed bool      // ok
	}{
		{"alone", "a", []string{"a"}, nil, time.Time{}, false},
		{"two, self smallest: serves alone", "a", []string{"a", "b"}, nil, time.Time{}, false},
		{"two, self larger: needs the smaller", "b", []string{"a", "b"}, map[string]time.Time{"a": s(5)}, s(7), true},
		{"two, self larger, no evidence", "b", []string{"a", "b"}, nil, time.Time{}, true},
		{"three: one peer is enough", "b", []string{"a", "b", "c"}, map[string]time.Time{"a": s(3), "c": s(5)}, s(7), true},
		{"three: no peer", "a", []string{"a", "b", "c"}, map[string]time.Time{}, time.Time{}, true},
		{"four: two peers", "c", []string{"a", "b", "c", "d"}, map[string]time.Time{"a": s(1), "b": s(4), "d": s(6)}, s(6), true},
		{"four: tie with the smallest", "c", []string{"a", "b", "c", "d"}, map[string]time.Time{"a": s(9)}, s(11), true},
		{"four: tie without the smallest", "c", []string{"a", "b", "c", "d"}, map[string]time.Time{"d": s(9)}, time.Time{}, true},
		{"four: self smallest, one peer", "a", []string{"a", "b", "c", "d"}, map[string]time.Time{"d": s(9)}, s(11), true},
		{"five: two peers", "e", []string{"a", "b", "c", "d", "e"}, map[string]time.Time{"a": s(1), "b": s(2), "c": s(3)}, s(4), true},
		{"duplicates count once", "b", []string{"a", "b", "a", "b", "c"}, map[string]time.Time{"c": s(1)}, s(3), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := quorumUntil(tc.self, tc.set, tc.seen, after)
			if ok != tc.needed || !got.Equal(tc.want) {
				t.Fatalf("quorumUntil = %v, %v; want %v, %v", got, ok, tc.want, tc.needed)
			}
		})
	}
}

// The reference set keeps the members of the last view with a quorum: a
// node whose view shrinks because it declares the others dead does not
// become a majority of one, nor shrinks its set while a peer still sees
// the others; one that keeps a quorum while a member dies, with the
// others agreeing, drops it from the set.
func TestFenceReferenceSet(t *testing.T) {
	now := time.Unix(2000, 0)
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Second) }
	set := func(ids ...string) map[string]bool {
		out := map[string]bool{}
		for _, id := range ids {
			out[id] = true
		}
		return out
	}
	f := newFence("a", 2*time.Second)
	abc := []Member{{ID: "a", Self: true}, {ID: "b", Endpoint: "x"}, {ID: "c", Endpoint: "y"}}
	f.saw("b", now, set("a", "b", "c"))
	if serving, _ := f.evaluate(now, abc); !serving {
		t.Fatal("not serving with evidence from b")
	}
	// a declares c dead while b, whose evidence is fresh, still sees c:
	// c stays in the set.
	f.saw("b", at(1), set("a", "b", "c"))
	f.evaluate(at(1), abc[:2])
	if n := len(f.targets(abc[:2])); n != 2 {
		t.Fatalf("%d targets, want b and c: nobody agreed that c is gone", n)
	}
	if serving, changed := f.evaluate(at(4), abc[:2]); serving || !changed {
		t.Fatalf("serving %v changed %v with stale evidence", serving, changed)
	}
	// Cut off, a declares b and c dead: its view is itself alone.
	if serving, _ := f.evaluate(at(10), abc[:1]); serving || f.servingAt(at(10)) {
		t.Fatal("a cut node became a majority of one")
	}
	if n := len(f.targets(abc[:1])); n != 2 {
		t.Fatalf("%d targets, want b and c of the reference set", n)
	}
	// c comes back and shows a alive; the view has all three again.
	f.saw("c", at(11), set("a", "b", "c"))
	if serving, changed := f.evaluate(at(11), abc); !serving || !changed {
		t.Fatal("not serving again with fresh evidence from c")
	}
	// c dies and b agrees: the set shrinks to a and b.
	f.saw("b", at(12), set("a", "b"))
	f.evaluate(at(12), abc[:2])
	if n := len(f.targets(abc[:2])); n != 1 {
		t.Fatalf("%d targets after c died, want b", n)
	}
	off := newFence("a", 0)
	if serving, _ := off.evaluate(now, abc); !serving || !off.servingAt(now) {
		t.Fatal("self-fencing off, yet not serving")
	}
}

// The hand-off barrier: a node with a quorum takes its refs over only
// once it has joined and every member of its reference set and view is
// in its view and has shown it alive in a member list asked for since
// it started serving, and then only after the grace. Losing and
// regaining the quorum starts over.
func TestHandoffBarrier(t *testing.T) {
	t0 := time.Unix(3000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	all := map[string]bool{"a": true, "b": true, "c": true}
	abc := []Member{{ID: "a", Self: true}, {ID: "b", Endpoint: "x"}, {ID: "c", Endpoint: "y"}}
	f := newFence("a", 2*time.Second)
	f.grace = time.Second
	f.since = t0

	f.saw("b", at(100), all)
	if quorum, _ := f.evaluate(at(100), abc); !quorum {
		t.Fatal("no quorum with evidence from b")
	}
	if f.settle(at(100), abc, true) || f.servingAt(at(100)) || !f.settling(at(100)) {
		t.Fatal("took the refs over before c showed this node alive")
	}
	f.saw("c", at(-100), all) // asked for before the node started serving
	if f.settle(at(200), abc, true) {
		t.Fatal("settled on a member list asked for before the node served")
	}
	f.saw("c", at(300), all)
	if f.settle(at(400), abc, false) {
		t.Fatal("settled before joining")
	}
	if !f.settle(at(400), abc, true) {
		t.Fatal("not settled with every member showing this node alive")
	}
	if got := f.takeOverAt(); !got.Equal(at(1400)) {
		t.Fatalf("takes over at %v, want the confirmation plus the grace %v", got, at(1400))
	}
	if f.servingAt(at(1399)) || !f.servingAt(at(1400)) {
		t.Fatal("serving does not start at the end of the grace")
	}
	if f.settle(at(1500), abc, true) {
		t.Fatal("settled twice")
	}

	// The quorum goes (stale evidence) and comes back: the barrier
	// starts over and old member lists do not count.
	if quorum, changed := f.evaluate(at(5000), abc); quorum || !changed {
		t.Fatal("quorum kept on stale evidence")
	}
	f.saw("b", at(6000), all)
	if quorum, changed := f.evaluate(at(6000), abc); !quorum || !changed {
		t.Fatal("quorum not back with fresh evidence from b")
	}
	if f.servingAt(at(6000)) || f.settle(at(6000), abc, true) {
		t.Fatal("serving again on c's member list from before the cut")
	}
	// c is in the reference set but not in the view: no take-over even
	// with a fresh member list from it.
	f.saw("c", at(6100), all)
	if f.settle(at(6200), abc[:2], true) {
		t.Fatal("settled while a member of the reference set is missing from the view")
	}
	if !f.settle(at(6200), abc, true) || !f.servingAt(at(7200)) || f.servingAt(at(7199)) {
		t.Fatal("no take-over one grace after every member showed this node alive again")
	}

	// A node alone takes over at once.
	alone := newFence("a", 2*time.Second)
	alone.grace = time.Second
	if !alone.settle(t0, abc[:1], true) || !alone.servingAt(t0) {
		t.Fatal("a node without peers waits")
	}
}
