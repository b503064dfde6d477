package cluster

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Self-fencing. A node cut off from the others keeps its actors (cached
// state, leases) of the keys it owns, while the others declare it dead
// after the failure detector's suspicion timeout, take those keys over
// and change them. Writes of the cut node are fenced by the store's
// conditional writes, but its reads would come from its stale memory.
// So a node serves the refs it owns only while it has fresh evidence
// that a quorum of its members sees it alive: a peer's member list,
// fetched from the peer, that shows this node alive (not suspect, not
// dead) counts as evidence from the moment the request was sent, for
// FenceAfter. FenceAfter is shorter than the time the others need to
// declare a node dead (a failed probe, then at least the suspicion
// timeout), so a cut node stops serving before its keys can move.
//
// The quorum is taken over the reference set: the owning members of the
// last view in which this node had a quorum, together with the current
// view. A cut node's view shrinks as it declares the others dead, but
// its reference set does not, so it never becomes a "majority of one".
// A node that crashes while the others keep their quorum leaves the
// reference set of the others when they declare it dead.
//
// Quorum: more than half the reference set counting this node, or
// exactly half when that half holds the member with the smallest id (a
// tie-break: of the two halves of an even split, one serves). Hence a
// single node always serves; of two nodes that lose each other, the one
// with the smaller id keeps serving and the other waits for it (or for
// a third node).

// DefaultFenceAfter is the default FenceAfter for memberlist's LAN
// timing: 5/8 of the shortest time in which the others can declare a
// node dead once they stop hearing from it (the suspicion timeout,
// SuspicionMult probe intervals; the failed probe before it adds at
// least a probe timeout).
func DefaultFenceAfter() time.Duration { return fenceAfterFor(memberlist.DefaultLANConfig()) }

func fenceAfterFor(mc *memberlist.Config) time.Duration {
	return time.Duration(mc.SuspicionMult) * mc.ProbeInterval * 5 / 8
}

func (c *Cluster) fenceAfter(mc *memberlist.Config) time.Duration {
	switch {
	case c.cfg.FenceAfter < 0:
		return 0
	case c.cfg.FenceAfter > 0:
		return c.cfg.FenceAfter
	}
	return fenceAfterFor(mc)
}

// always is the until of a node that needs no evidence.
const always = math.MaxInt64

// fence is a node's self-fencing state.
type fence struct {
	self  string
	after time.Duration // 0: off
	until atomic.Int64  // unix ns; the node serves while now is before it

	mu      sync.Mutex
	ref     map[string]Member    // the reference set, this node included
	seen    map[string]time.Time // peer id -> when it last showed us alive
	serving bool                 // as last evaluated
}

func newFence(self string, after time.Duration) *fence {
	f := &fence{self: self, after: after, ref: map[string]Member{self: {ID: self, Self: true}},
		seen: map[string]time.Time{}, serving: true}
	f.until.Store(always)
	return f
}

// servingAt reports whether the node serves its refs at now.
func (f *fence) servingAt(now time.Time) bool {
	return f.after == 0 || now.UnixNano() < f.until.Load()
}

// saw records that peer showed this node alive in a member list it
// sent after at.
func (f *fence) saw(peer string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(f.seen[peer]) {
		f.seen[peer] = at
	}
}

// targets are the peers whose member lists are evidence: the reference
// set and the view, this node left out.
func (f *fence) targets(view []Member) []Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	byID := map[string]Member{}
	for id, m := range f.ref {
		byID[id] = m
	}
	for _, m := range view {
		byID[m.ID] = m
	}
	delete(byID, f.self)
	out := make([]Member, 0, len(byID))
	for _, m := range byID {
		if m.Endpoint != "" {
			out = append(out, m)
		}
	}
	return out
}

// evaluate decides whether the node serves, given the current view, at
// now; changed reports a change since the last evaluation.
func (f *fence) evaluate(now time.Time, view []Member) (serving, changed bool) {
	if f.after == 0 {
		return true, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	set := []string{f.self}
	for id := range f.ref {
		if id != f.self {
			set = append(set, id)
		}
	}
	for _, m := range view {
		if _, ok := f.ref[m.ID]; !ok && m.ID != f.self {
			set = append(set, m.ID)
		}
	}
	until, ok := quorumUntil(f.self, set, f.seen, f.after)
	switch {
	case !ok:
		f.until.Store(always)
	case until.IsZero():
		f.until.Store(math.MinInt64)
	default:
		f.until.Store(until.UnixNano())
	}
	serving = !ok || now.Before(until)
	if serving {
		f.ref = map[string]Member{f.self: {ID: f.self, Self: true}}
		for _, m := range view {
			f.ref[m.ID] = m
		}
		for id := range f.seen {
			if _, in := f.ref[id]; !in {
				delete(f.seen, id)
			}
		}
	}
	changed = serving != f.serving
	f.serving = serving
	return serving, changed
}

// quorumUntil returns until when self, in the reference set set (self
// included), holds a quorum on the evidence seen (the moment each peer
// last showed self alive), each piece of evidence being good for after.
// ok is false when self needs no evidence (a quorum on its own: a set of
// one, or of two in which self has the smaller id).
func quorumUntil(self string, set []string, seen map[string]time.Time, after time.Duration) (until time.Time, ok bool) {
	set = slices.Clone(set)
	slices.Sort(set)
	set = slices.Compact(set)
	n := len(set)
	var peers []time.Time // evidence of each peer, freshest first
	for _, id := range set {
		if id != self {
			peers = append(peers, seen[id])
		}
	}
	slices.SortFunc(peers, func(a, b time.Time) int { return b.Compare(a) })
	// kth is the evidence of the k-th freshest peer (k ≥ 1).
	kth := func(ts []time.Time, k int) time.Time {
		if k > len(ts) {
			return time.Time{}
		}
		return ts[k-1]
	}
	need := n / 2 // peers for a strict majority with self
	if need == 0 {
		return time.Time{}, false
	}
	best := kth(peers, need)
	if n%2 == 0 {
		// A tie: n/2 members, self included, holding the smallest id.
		tie := n/2 - 1
		low := set[0]
		var t time.Time
		switch {
		case low == self && tie == 0:
			return time.Time{}, false
		case low == self:
			t = kth(peers, tie)
		default:
			var others []time.Time
			for _, id := range set {
				if id != self && id != low {
					others = append(others, seen[id])
				}
			}
			slices.SortFunc(others, func(a, b time.Time) int { return b.Compare(a) })
			t = seen[low]
			if tie > 1 {
				if o := kth(others, tie-1); o.Before(t) {
					t = o
				}
			}
		}
		if t.After(best) {
			best = t
		}
	}
	if best.IsZero() {
		return time.Time{}, true
	}
	return best.Add(after), true
}
