package soak

import (
	"fmt"
	"sort"
	"time"
)

// grantsByKey returns the successful acquires per key.
func grantsByKey(ops []Op) map[string][]Op {
	out := map[string][]Op{}
	for _, op := range ops {
		if op.Kind == KindAcquire && op.Outcome == OK {
			out[op.Key] = append(out[op.Key], op)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkFencing proves invariant 1: every grant of a key has a token no
// other grant had, larger than that of every grant that returned before
// it was asked for (real-time order, across restarts).
func checkFencing(phase string, ops []Op) Verdict {
	v := Verdict{Check: "fencing", Phase: phase, Status: Passed,
		Invariant: "fencing tokens strictly increase per key, in real-time order, across restarts"}
	grants := grantsByKey(ops)
	bad := 0
	for _, key := range sortedKeys(grants) {
		gs := grants[key]
		v.Checked += len(gs)
		if f, found := fencingViolation(key, gs); found {
			bad++
			v.fail(f)
		}
	}
	v.Summary = fmt.Sprintf("%d grants on %d keys", v.Checked, len(grants))
	if bad > 0 {
		v.Summary += fmt.Sprintf("; %d keys with a fencing violation", bad)
	}
	return v
}

// fencingViolation finds the first duplicate or out-of-order token.
func fencingViolation(key string, gs []Op) (Failure, bool) {
	byToken := map[int64]Op{}
	for _, g := range gs {
		if prev, dup := byToken[g.Token]; dup {
			return Failure{Key: key, History: []Op{prev, g},
				Message: fmt.Sprintf("fencing token %d was granted twice (ops #%d and #%d)", g.Token, prev.ID, g.ID)}, true
		}
		byToken[g.Token] = g
	}
	byCall := append([]Op(nil), gs...)
	sort.Slice(byCall, func(i, j int) bool { return byCall[i].Call < byCall[j].Call })
	byRet := append([]Op(nil), gs...)
	sort.Slice(byRet, func(i, j int) bool { return byRet[i].Return < byRet[j].Return })
	var best *Op // the grant with the largest token among those returned so far
	j := 0
	for _, g := range byCall {
		for j < len(byRet) && byRet[j].Return < g.Call {
			if best == nil || byRet[j].Token > best.Token {
				best = &byRet[j]
			}
			j++
		}
		if best != nil && g.Token <= best.Token {
			return Failure{Key: key, History: []Op{*best, g},
				Message: fmt.Sprintf("grant #%d got token %d although grant #%d had already returned token %d", g.ID, g.Token, best.ID, best.Token)}, true
		}
	}
	return Failure{}, false
}

// checkLeaseOverlap proves invariant 2 from the client's side: a grant
// that returned before the previous holder's lease could have ended
// (no release sent, TTL not yet run out since that grant was asked for)
// means two leases were live at once.
func checkLeaseOverlap(phase string, ops []Op, slack time.Duration) Verdict {
	v := Verdict{Check: "single-holder", Phase: phase, Status: Passed,
		Invariant: "at most one live lease per key (a grant never returns before the previous lease was released or expired)"}
	grants := grantsByKey(ops)
	for _, key := range sortedKeys(grants) {
		gs := append([]Op(nil), grants[key]...)
		sort.Slice(gs, func(i, j int) bool { return gs[i].Token < gs[j].Token })
		for i := 1; i < len(gs); i++ {
			a, b := gs[i-1], gs[i]
			v.Checked++
			if a.Token == b.Token || a.TTL <= 0 {
				continue // duplicates are the fencing check's; no TTL, no bound
			}
			end := a.Call + a.TTL
			if a.EndCall > 0 && a.EndCall < end {
				end = a.EndCall
			}
			if b.Return+slack < end {
				v.fail(Failure{Key: key, History: []Op{a, b},
					Message: fmt.Sprintf("grant #%d (token %d) returned at %s, while grant #%d (token %d) was provably live until at least %s",
						b.ID, b.Token, fmtDur(b.Return), a.ID, a.Token, fmtDur(end))})
				break
			}
		}
	}
	v.Summary = fmt.Sprintf("%d successive grants compared", v.Checked)
	return v
}
