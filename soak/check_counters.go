package soak

import (
	"fmt"
	"strings"
)

// commits tallies the commits of one key by outcome, and the values they
// wrote.
type commits struct {
	ok, unknown int
	okOps       []Op
	written     map[Val]Outcome // values written by ok or unknown commits
}

func commitsByKey(ops []Op) map[string]*commits {
	out := map[string]*commits{}
	for _, op := range ops {
		if !isCommit(op.Kind) || op.Outcome == Fail {
			continue
		}
		for i, k := range opKeys(op) {
			c := out[k]
			if c == nil {
				c = &commits{written: map[Val]Outcome{}}
				out[k] = c
			}
			if op.Outcome == OK {
				c.ok++
				c.okOps = append(c.okOps, op)
			} else {
				c.unknown++
			}
			if i < len(op.New) {
				if prev, seen := c.written[op.New[i]]; !seen || prev != OK {
					c.written[op.New[i]] = op.Outcome
				}
			}
		}
	}
	return out
}

// checkIncrements proves invariants 3 and 4 for the counters: every
// commit adds exactly one under an exclusive lease, so the final count
// must lie between the acknowledged commits and those plus the unknown
// ones, and the final value must have been written by one of them.
func checkIncrements(phase string, ops []Op, l Layout, fin Final) Verdict {
	v := Verdict{Check: "no-lost-increments", Phase: phase, Status: Passed,
		Invariant: "no acknowledged counter increment is lost, and no increment appears that nobody made"}
	cs := commitsByKey(ops)
	acked, lost := 0, int64(0)
	for _, key := range l.AllKeys() {
		c := cs[key]
		if c == nil {
			c = &commits{written: map[Val]Outcome{}}
		}
		f, ok := fin.Values[key]
		if !ok {
			if c.ok > 0 {
				v.Status = Inconclusive
			}
			continue
		}
		v.Checked++
		acked += c.ok
		switch {
		case f.N < int64(c.ok):
			lost += int64(c.ok) - f.N
			v.fail(Failure{Key: key, History: tail(c.okOps, 6),
				Message: fmt.Sprintf("%d increments acknowledged but the final counter is %d (%d lost; %d more were unknown)", c.ok, f.N, int64(c.ok)-f.N, c.unknown)})
		case f.N > int64(c.ok+c.unknown):
			v.fail(Failure{Key: key,
				Message: fmt.Sprintf("final counter %d exceeds the %d acknowledged and %d unknown increments", f.N, c.ok, c.unknown)})
		case f.N > 0 && !writtenBy(c, f):
			v.fail(Failure{Key: key,
				Message: fmt.Sprintf("final value %d/%s was written by no acknowledged or unknown commit", f.N, f.W)})
		}
	}
	v.Summary = fmt.Sprintf("%d keys, %d acknowledged increments", v.Checked, acked)
	if lost > 0 {
		v.Summary += fmt.Sprintf(", %d LOST", lost)
	}
	if len(fin.Missing) > 0 {
		v.Summary += fmt.Sprintf("; %d keys unreadable at the end", len(fin.Missing))
	}
	return v
}

func writtenBy(c *commits, f Val) bool { _, ok := c.written[f]; return ok }

func tail(ops []Op, n int) []Op {
	if len(ops) > n {
		return ops[len(ops)-n:]
	}
	return ops
}

// checkTxnAtomic proves invariant 6: a transaction writes the same value
// to every key of its group, so a group's keys read under the leases of
// one transaction, and at the end, must all hold the same value.
func checkTxnAtomic(phase string, ops []Op, l Layout, fin Final) Verdict {
	v := Verdict{Check: "txn-all-or-nothing", Phase: phase, Status: Passed,
		Invariant: "multi-key transactions commit all or nothing (snapshots under the txn's leases and final states agree across the group)"}
	if len(l.Groups) == 0 {
		v.Status, v.Summary = Skipped, "no transaction traffic"
		return v
	}
	snapshots, committed, torn := 0, 0, 0
	shown := map[string]bool{} // one counterexample per group
	for _, op := range ops {
		if op.Kind != KindTxn {
			continue
		}
		if op.Outcome == OK {
			committed++
		}
		if len(op.Reads) == len(op.Keys) && len(op.Reads) > 0 {
			snapshots++
			if group := strings.Join(op.Keys, ","); !allEqual(op.Reads) {
				torn++
				v.Status = Failed
				if !shown[group] {
					shown[group] = true
					v.fail(Failure{Key: group, History: []Op{op},
						Message: "a transaction holding every lease of its group read different values: " + fmtVals(op.Keys, op.Reads) + " (an earlier transaction applied partially)"})
				}
			}
		}
	}
	groups := 0
	for _, g := range l.Groups {
		vals := make([]Val, 0, len(g))
		for _, k := range g {
			if f, ok := fin.Values[k]; ok {
				vals = append(vals, f)
			}
		}
		if len(vals) != len(g) {
			continue
		}
		groups++
		if !allEqual(vals) {
			v.fail(Failure{Key: strings.Join(g, ","), Message: "final values differ across the group: " + fmtVals(g, vals)})
		}
	}
	v.Checked = snapshots + groups
	v.Summary = fmt.Sprintf("%d transactions committed, %d in-txn snapshots and %d final group states compared", committed, snapshots, groups)
	if torn > 0 {
		v.Summary += fmt.Sprintf("; %d torn snapshots", torn)
	}
	return v
}

func allEqual(vs []Val) bool {
	for _, x := range vs[1:] {
		if x != vs[0] {
			return false
		}
	}
	return true
}

func fmtVals(keys []string, vs []Val) string {
	parts := make([]string, len(vs))
	for i := range vs {
		parts[i] = fmt.Sprintf("%s=%d/%s", keys[i], vs[i].N, vs[i].W)
	}
	return strings.Join(parts, " ")
}

// checkDirtyReads: every value a public read or a query returned was
// written by a commit that was acknowledged or may have happened, never
// by a write that was rolled back, refused or never committed.
func checkDirtyReads(phase string, ops []Op) Verdict {
	v := Verdict{Check: "no-dirty-reads", Phase: phase, Status: Passed,
		Invariant: "reads and queries only ever return committed values (never staged, rolled-back or refused writes)"}
	cs := commitsByKey(ops)
	staged := map[Val]Op{} // writes that must never be visible
	for _, op := range ops {
		if op.Kind == KindRollback || (isCommit(op.Kind) && op.Outcome == Fail) {
			for _, nv := range op.New {
				staged[nv] = op
			}
		}
	}
	check := func(op Op, key string, got Val) {
		v.Checked++
		if got == (Val{}) {
			return
		}
		if c := cs[key]; c != nil && writtenBy(c, got) {
			return
		}
		msg := fmt.Sprintf("%s of %s returned %d/%s, which no commit wrote", op.Kind, key, got.N, got.W)
		hist := []Op{op}
		if w, ok := staged[got]; ok {
			msg = fmt.Sprintf("%s of %s returned %d/%s, written by %s op #%d whose outcome was %s", op.Kind, key, got.N, got.W, w.Kind, w.ID, w.Outcome)
			hist = []Op{w, op}
		}
		v.fail(Failure{Key: key, Message: msg, History: hist})
	}
	for _, op := range ops {
		switch {
		case op.Outcome != OK:
		case op.Kind == KindRead && op.Read != nil:
			check(op, op.Key, *op.Read)
		case op.Kind == KindQuery:
			for i, k := range op.Keys {
				if i < len(op.Reads) {
					check(op, k, op.Reads[i])
				}
			}
		}
	}
	v.Summary = fmt.Sprintf("%d values read publicly or by query", v.Checked)
	return v
}

// checkDurableAfterCrash proves invariant 3 once more at the end: after a
// final kill -9 and restart, every key holds what it held before.
func checkDurableAfterCrash(phase string, l Layout, fin Final) Verdict {
	v := Verdict{Check: "durable-after-kill9", Phase: phase, Status: Passed,
		Invariant: "committed state survives kill -9 (final values re-read after a last crash and restart)"}
	if fin.AfterCrash == nil {
		v.Status, v.Summary = Skipped, "store is not durable (mem://) or the harness does not own the server"
		return v
	}
	for _, k := range l.AllKeys() {
		before, ok := fin.Values[k]
		if !ok {
			continue
		}
		v.Checked++
		after, ok := fin.AfterCrash[k]
		if !ok || after != before {
			v.fail(Failure{Key: k, Message: fmt.Sprintf("held %d/%s before the crash, %d/%s after (present=%v)", before.N, before.W, after.N, after.W, ok)})
		}
	}
	v.Summary = fmt.Sprintf("%d keys compared across a kill -9", v.Checked)
	return v
}
