package ha

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
)

var simSeed = flag.Uint64("seed", 0, "replay one seed of TestSimulatedFailoverNeverTwoServing")

// simNode is one node of the simulation: a core, its drifting clock and
// the store operation it waits for.
type simNode struct {
	c        *core
	rate     float64 // its clock runs at rate × real time
	nextTick time.Duration
	paused   time.Duration // real time until which it does nothing (GC, SIGSTOP)
	crashed  bool
	op       *simOp
}

type simOp struct {
	w      *LeaseWrite // nil: a read
	landAt time.Duration
	respAt time.Duration
	landed bool
	fail   bool // the store never applies it
	lose   bool // applied, but the answer is lost
	etag   string
	err    error
	read   LeaseView
}

// TestSimulatedFailoverNeverTwoServing runs nodes against one simulated
// lease record with store latency, failed and lost writes, pauses longer
// than the TTL, crashes, joins and clock rates off by up to 5%, and checks
// at every instant that at most one node serves, and that the lease term
// never decreases. A failure prints its seed; -seed=N replays it.
func TestSimulatedFailoverNeverTwoServing(t *testing.T) {
	seeds := []uint64{}
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := uint64(1); s <= 100; s++ {
			seeds = append(seeds, s)
		}
	}
	terms := uint64(0)
	for _, seed := range seeds {
		term, err := simulate(seed, 2*time.Minute)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		terms += term
	}
	// The faults must actually move the lease around, or the check above
	// proves little.
	if len(seeds) > 1 && terms < 3*uint64(len(seeds)) {
		t.Fatalf("only %d lease terms in %d runs: the faults hardly move the lease", terms, len(seeds))
	}
	t.Logf("%d lease terms (handovers + 1) in %d runs", terms, len(seeds))
}

func simulate(seed uint64, length time.Duration) (uint64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tm := TimingsFor(ttl)
	base := time.Unix(1_800_000_000, 0)
	var rec LeaseView
	seq := 0
	var nodes []*simNode
	join := func(now time.Duration) {
		id := fmt.Sprint("n", len(nodes))
		k := 0
		c := newCore(NodeInfo{ID: id}, Failover, ttl, deadSet{}, func() string { k++; return fmt.Sprintf("%s-%d", id, k) })
		nodes = append(nodes, &simNode{c: c, rate: 1 + (rng.Float64()-0.5)*0.1, nextTick: now})
	}
	for i := 0; i < 3; i++ {
		join(0)
	}
	local := func(n *simNode, now time.Duration) time.Time {
		return base.Add(time.Duration(float64(now) * n.rate))
	}
	latency := func() time.Duration {
		switch r := rng.IntN(100); {
		case r < 2:
			return time.Duration(rng.Int64N(int64(ttl)))
		case r < 10:
			return time.Duration(rng.Int64N(int64(tm.Poll)))
		}
		return time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
	}
	apply := func(w *LeaseWrite) (string, error) {
		if (w.Cond.IfNotExists && rec.Present) || (w.Cond.IfMatch != "" && (!rec.Present || rec.ETag != w.Cond.IfMatch)) {
			return "", store.ErrConflict
		}
		if rec.Present && w.Rec.Term < rec.Rec.Term {
			return "", fmt.Errorf("term went back from %d to %d", rec.Rec.Term, w.Rec.Term)
		}
		seq++
		rec = LeaseView{Present: true, ETag: fmt.Sprint("e", seq), Rec: w.Rec}
		return rec.ETag, nil
	}
	const step = 10 * time.Millisecond
	lastTerm := uint64(0)
	for now := time.Duration(0); now < length; now += step {
		if rng.IntN(3000) == 0 && len(nodes) < 6 {
			join(now)
		}
		for _, i := range rng.Perm(len(nodes)) {
			n := nodes[i]
			if n.crashed || now < n.paused {
				continue
			}
			switch r := rng.IntN(4000); {
			case r == 0:
				n.crashed = true
				continue
			case r < 8:
				n.paused = now + time.Duration(rng.Int64N(int64(2*ttl)))
				continue
			}
			if err := simAdvance(n, now, local(n, now), rng, tm, latency, apply, &rec); err != nil {
				return 0, fmt.Errorf("at %s: %w", now, err)
			}
		}
		serving := 0
		for _, n := range nodes {
			if n.c.serving(local(n, now)) {
				serving++
			}
		}
		if serving > 1 {
			return 0, fmt.Errorf("at %s: %d nodes serve at once", now, serving)
		}
		if rec.Present && rec.Rec.Term < lastTerm {
			return 0, fmt.Errorf("at %s: term went back to %d from %d", now, rec.Rec.Term, lastTerm)
		}
		lastTerm = rec.Rec.Term
	}
	if lastTerm == 0 {
		return 0, errors.New("nobody ever took the lease")
	}
	return lastTerm, nil
}

// simAdvance moves one node's pending operation or starts its next tick.
func simAdvance(n *simNode, now time.Duration, local time.Time, rng *rand.Rand, tm Timings,
	latency func() time.Duration, apply func(*LeaseWrite) (string, error), rec *LeaseView) error {
	if op := n.op; op != nil {
		if !op.landed && now >= op.landAt {
			op.landed = true
			switch {
			case op.w == nil:
				op.read = *rec
			case op.fail:
				op.err = errors.New("store unavailable")
			default:
				op.etag, op.err = apply(op.w)
				if op.err != nil && !errors.Is(op.err, store.ErrConflict) {
					return op.err
				}
				if op.lose {
					op.etag, op.err = "", errors.New("answer lost")
				}
			}
		}
		if now < op.respAt {
			return nil
		}
		n.op = nil
		if op.w != nil {
			n.c.written(local, op.w, op.etag, op.err)
			n.nextTick = now + time.Duration(float64(tm.Poll)/n.rate)
			return nil
		}
		var lv *LeaseView
		if !op.fail {
			lv = &op.read
		}
		return simWrite(n, now, n.c.step(local, lv), rng, latency)
	}
	if now < n.nextTick {
		return nil
	}
	if n.c.needsRead() {
		land := now + latency()
		n.op = &simOp{landAt: land, respAt: land + latency(), fail: rng.IntN(20) == 0}
		return nil
	}
	return simWrite(n, now, n.c.step(local, nil), rng, latency)
}

func simWrite(n *simNode, now time.Duration, w *LeaseWrite, rng *rand.Rand, latency func() time.Duration) error {
	if w == nil {
		n.nextTick = now + time.Duration(float64(TimingsFor(ttl).Poll)/n.rate)
		return nil
	}
	land := now + latency()
	n.op = &simOp{w: w, landAt: land, respAt: land + latency(), fail: rng.IntN(10) == 0, lose: rng.IntN(10) == 0}
	return nil
}
