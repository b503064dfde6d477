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
// that a quorum of its members sees it alive. Evidence from a peer is a
// gossip ping the peer acked (over the gossip network, both ways) and
// the peer's member list, fetched from its API right after, listing this
// node as a member; it counts from the moment the ping was sent, for
// FenceAfter. While the gossip between the two works, a suspicion of
// this node reaches it and it refutes it, so the peer cannot declare it
// dead sooner than a suspicion timeout after that moment. FenceAfter is
// shorter than that timeout, so a cut node stops serving before its keys
// can move.
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

// The hand-off barrier. Self-fencing keeps a node that lost its quorum
// from serving; the barrier keeps a node that starts serving (at its
// start, or when its quorum comes back after a partition) from serving
// refs that another node still serves. Until every peer it knows of
// shows it alive in a member list made after that moment, some peer may
// not have heard of it yet and still own (and serve from its memory)
// refs that this node owns in its own view: both would answer reads,
// and one of them from a stale view. So the node takes its refs over
// only when (1) it has joined, (2) every member of its reference set and
// view is in its view and has shown it alive in a member list asked for
// after it started serving (each of those peers routes this node's refs
// to it from then on, and by the fence argument cannot drop it sooner
// than a suspicion timeout later), and (3) a grace period has passed
// since, for the requests those peers were serving when they saw it to
// be answered. A node with no peer takes over at once. Refs that a node
// gains because a member was declared dead wait FenceAfter from then
// (HandoffWait): a death this node's own suspicion timeout declares
// comes after the member fenced itself (above), but memberlist also
// applies deaths that other nodes gossip, and a node back from a
// partition gossips those it declared while cut off, about members that
// were alive and serving all along (until they refute it). A member
// stops serving at most FenceAfter after the last member list of this
// node that showed it alive.

// DefaultHandoffGrace is the default Config.HandoffGrace.
const DefaultHandoffGrace = time.Second

// fence is a node's self-fencing state.
type fence struct {
	self  string
	after time.Duration // 0: off
	until atomic.Int64  // unix ns; the node serves while now is before it
	// from is when the node takes its refs over (the hand-off barrier,
	// unix ns): never until it is settled.
	from  atomic.Int64
	grace time.Duration

	mu      sync.Mutex
	ref     map[string]Member   // the reference set, this node included
	seen    map[string]evidence // by peer id: its latest member list showing us alive
	serving bool                // as last evaluated (the quorum alone)
	since   time.Time           // when the quorum last came (or the fence was made)
}

// evidence is a peer's member list that showed this node alive.
type evidence struct {
	at   time.Time       // when it was asked for (it was made after)
	view map[string]bool // the members it showed alive or suspect
}

func newFence(self string, after time.Duration) *fence {
	f := &fence{self: self, after: after, ref: map[string]Member{self: {ID: self, Self: true}},
		seen: map[string]evidence{}, serving: true, since: time.Now()}
	f.until.Store(always)
	f.from.Store(always)
	return f
}

// servingAt reports whether the node serves its refs at now: it holds a
// quorum and has taken its refs over.
func (f *fence) servingAt(now time.Time) bool {
	if f.after == 0 {
		return true
	}
	ns := now.UnixNano()
	return ns < f.until.Load() && ns >= f.from.Load()
}

// quorumAt reports whether the node holds a quorum at now, settled or not.
func (f *fence) quorumAt(now time.Time) bool {
	return f.after == 0 || now.UnixNano() < f.until.Load()
}

// settling reports whether the node holds a quorum at now but has not
// taken its refs over yet (the hand-off barrier); it will, unless a peer
// stays silent.
func (f *fence) settling(now time.Time) bool {
	return f.quorumAt(now) && !f.servingAt(now)
}

// takeOverAt returns when the node takes its refs over: the zero time
// while it is not settled.
func (f *fence) takeOverAt() time.Time {
	if ns := f.from.Load(); ns != always {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// settle applies the hand-off barrier at now, given the current view and
// whether the node has joined: once the node holds a quorum, has joined,
// and every member of its reference set and view is in the view and has
// shown it alive in a member list asked for at or after since, it takes
// its refs over grace later (at once without peers). It reports whether
// it settled in this call.
func (f *fence) settle(now time.Time, view []Member, joined bool) bool {
	if f.after == 0 || f.from.Load() != always || !joined {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.serving {
		return false
	}
	inView := make(map[string]bool, len(view))
	for _, m := range view {
		inView[m.ID] = true
	}
	peers := 0
	confirmed := func(id string) bool {
		if id == f.self {
			return true
		}
		peers++
		e, ok := f.seen[id]
		return inView[id] && ok && !e.at.Before(f.since)
	}
	for id := range f.ref {
		if !confirmed(id) {
			return false
		}
	}
	for _, m := range view {
		if _, inRef := f.ref[m.ID]; !inRef && !confirmed(m.ID) {
			return false
		}
	}
	from := now
	if peers > 0 {
		from = now.Add(f.grace)
	}
	f.from.Store(from.UnixNano())
	return true
}

// saw records that peer showed this node alive in a member list it
// made after at, in which view are the members it showed owning.
func (f *fence) saw(peer string, at time.Time, view map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(f.seen[peer].at) {
		f.seen[peer] = evidence{at: at, view: view}
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
//
// While it serves, the reference set grows with the view. It shrinks by
// the members that left the view only when peers holding a majority of
// the reference set (with this node) agree: their fresh member lists show
// none of them. A node cut off declares the others dead on its own, and
// nobody agrees with it; a member that crashed is declared dead by all.
func (f *fence) evaluate(now time.Time, view []Member) (serving, changed bool) {
	if f.after == 0 {
		return true, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	inView := map[string]bool{f.self: true}
	set := []string{f.self}
	for _, m := range view {
		inView[m.ID] = true
		if m.ID != f.self {
			set = append(set, m.ID)
		}
	}
	var gone []string
	for id := range f.ref {
		if !inView[id] {
			set = append(set, id)
			gone = append(gone, id)
		}
	}
	times := make(map[string]time.Time, len(f.seen))
	for id, e := range f.seen {
		times[id] = e.at
	}
	until, ok := quorumUntil(f.self, set, times, f.after)
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
		for _, m := range view {
			f.ref[m.ID] = m
		}
		if len(gone) > 0 && f.agreeGone(now, gone) {
			for _, id := range gone {
				delete(f.ref, id)
				delete(f.seen, id)
			}
		}
	}
	changed = serving != f.serving
	f.serving = serving
	if changed {
		// Serving again (or no longer): the refs are taken over anew
		// through the hand-off barrier.
		f.since = now
		f.from.Store(always)
	}
	return serving, changed
}

// agreeGone reports whether peers of the reference set that hold a
// majority of it with this node show none of gone in fresh member
// lists; f.mu held.
func (f *fence) agreeGone(now time.Time, gone []string) bool {
	agree := 0
	for id := range f.ref {
		e, ok := f.seen[id]
		if id == f.self || !ok || !now.Before(e.at.Add(f.after)) {
			continue
		}
		if !slices.ContainsFunc(gone, func(g string) bool { return e.view[g] }) {
			agree++
		}
	}
	return agree >= len(f.ref)/2
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
