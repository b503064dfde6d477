package soak

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/anishathalye/porcupine"
)

// The per-key model: a register holding a counter document (Val). A
// commit (lock cycle, zombie commit, one key of a transaction) is a
// compare-and-set: the lease made the key exclusive between the read
// under the lease and the release, so the commit applies new only if the
// state still was the value read. A read returns the state.
//
// A commit whose outcome is unknown may take effect at any time after
// its call, or never: its return is the end of time and the model lets
// it either apply or not. Definite failures are left out (no effect).

type linIn struct {
	read     bool
	old, new Val
}

type linOut struct {
	val     Val // a read's result
	unknown bool
}

// linModel is the register, built from a nondeterministic step.
var linModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{Val{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(Val), input.(linIn), output.(linOut)
		switch {
		case in.read:
			if s == out.val {
				return []any{s}
			}
			return nil
		case out.unknown:
			if s == in.old {
				return []any{s, in.new}
			}
			return []any{s}
		case s == in.old:
			return []any{in.new}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linIn), output.(linOut)
		if in.read {
			return fmt.Sprintf("read → %d/%s", out.val.N, out.val.W)
		}
		suffix := ""
		if out.unknown {
			suffix = " (unknown)"
		}
		return fmt.Sprintf("cas %d/%s → %d/%s%s", in.old.N, in.old.W, in.new.N, in.new.W, suffix)
	},
	Hash: func(state any) uint64 {
		s := state.(Val)
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", s.N, s.W)
		return h.Sum64()
	},
	DescribeState: func(state any) string {
		s := state.(Val)
		return fmt.Sprintf("%d/%s", s.N, s.W)
	},
}).ToModel()

// keyHistory is one key's porcupine history and the ops it came from.
type keyHistory struct {
	key  string
	ops  []porcupine.Operation
	from []Op
}

// opKeys are the keys an op wrote or read, aligned with Old/New.
func opKeys(op Op) []string {
	if len(op.Keys) > 0 {
		return op.Keys
	}
	return []string{op.Key}
}

func isCommit(k Kind) bool { return k == KindCycle || k == KindZombie || k == KindTxn }

// keyHistories splits the ops into per-key porcupine histories.
func keyHistories(ops []Op) []keyHistory {
	var end int64
	for _, op := range ops {
		end = max(end, int64(op.Return))
	}
	end++ // the end of time, for unknown outcomes
	byKey := map[string]*keyHistory{}
	add := func(key string, op Op, in linIn, out linOut) {
		h := byKey[key]
		if h == nil {
			h = &keyHistory{key: key}
			byKey[key] = h
		}
		ret := int64(op.Return)
		if out.unknown {
			ret = end
		}
		h.ops = append(h.ops, porcupine.Operation{ClientId: op.Worker, Input: in, Output: out, Call: int64(op.Call), Return: ret})
		h.from = append(h.from, op)
	}
	for _, op := range ops {
		switch {
		case (op.Kind == KindRead || op.Kind == KindLeaseGet) && op.Outcome == OK && op.Read != nil:
			add(op.Key, op, linIn{read: true}, linOut{val: *op.Read})
		case isCommit(op.Kind) && op.Outcome != Fail:
			for i, k := range opKeys(op) {
				if i < len(op.Old) && i < len(op.New) {
					add(k, op, linIn{old: op.Old[i], new: op.New[i]}, linOut{unknown: op.Outcome == Unknown})
				}
			}
		}
	}
	out := make([]keyHistory, 0, len(byKey))
	for _, h := range byKey {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// checkLinearizable checks every key's history with porcupine, two keys
// at a time (this machine has two cores and a server to run).
func checkLinearizable(phase string, ops []Op, _ Layout, o CheckOptions) Verdict {
	v := Verdict{Check: "linearizability", Phase: phase, Status: Passed,
		Invariant: "every key's reads and commits are linearizable (porcupine; unknown outcomes may or may not apply)"}
	hs := keyHistories(ops)
	results := make([]porcupine.CheckResult, len(hs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range hs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = porcupine.CheckOperationsTimeout(linModel, hs[i].ops, o.LinearizabilityTimeout)
		}()
	}
	wg.Wait()
	n, undecided := 0, 0
	for i, h := range hs {
		n += len(h.ops)
		switch results[i] {
		case porcupine.Illegal:
			v.fail(explainIllegal(h, o))
		case porcupine.Unknown:
			undecided++
		}
	}
	v.Checked = n
	if undecided > 0 && v.Status == Passed {
		v.Status = Inconclusive
	}
	v.Summary = fmt.Sprintf("%d keys, %d operations; %d not linearizable, %d undecided within %v",
		len(hs), n, countFailed(results), undecided, o.LinearizabilityTimeout)
	return v
}

func countFailed(rs []porcupine.CheckResult) int {
	n := 0
	for _, r := range rs {
		if r == porcupine.Illegal {
			n++
		}
	}
	return n
}

// explainIllegal reruns a failing key verbosely and cuts the failing
// window out of it: the end of the longest linearizable prefix, and the
// operations that could not follow it.
func explainIllegal(h keyHistory, o CheckOptions) Failure {
	res, info := porcupine.CheckOperationsVerbose(linModel, h.ops, o.LinearizabilityTimeout)
	f := Failure{Key: h.key, Message: "history is not linearizable"}
	if res != porcupine.Illegal {
		f.Message = "history is not linearizable (verbose rerun undecided)"
		return f
	}
	if o.VisualizeDir != "" {
		name := "linearizability-" + safeName(h.key) + ".html"
		if err := porcupine.VisualizePath(linModel, info, filepath.Join(o.VisualizeDir, name)); err == nil {
			f.Visualization = name
		}
	}
	var longest []int
	for _, p := range info.PartialLinearizations() {
		for _, l := range p {
			if len(l) > len(longest) {
				longest = l
			}
		}
	}
	window, state := failingWindow(h, longest)
	f.History = window
	f.Message = fmt.Sprintf("not linearizable: at most %d of %d operations linearize, reaching state %s; no remaining operation can follow",
		len(longest), len(h.ops), state)
	return f
}

// failingWindow returns the last operations of the longest linearizable
// prefix followed by the operations that were pending when the first
// impossible one returned, and the model states after the prefix.
func failingWindow(h keyHistory, longest []int) ([]Op, string) {
	states := linModel.Init()
	in := map[int]bool{}
	for _, id := range longest {
		in[id] = true
		op := h.ops[id]
		if ok, next := linModel.Step(states, op.Input, op.Output); ok {
			states = next
		}
	}
	stuck := -1
	for i, op := range h.ops {
		if !in[i] && (stuck < 0 || op.Return < h.ops[stuck].Return) {
			stuck = i
		}
	}
	var idx []int
	if n := len(longest); n > 0 {
		idx = append(idx, longest[max(0, n-3):]...)
	}
	for i, op := range h.ops {
		if !in[i] && stuck >= 0 && op.Call <= h.ops[stuck].Return {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	if len(idx) > 16 {
		idx = idx[len(idx)-16:]
	}
	out := make([]Op, 0, len(idx))
	for _, i := range idx {
		out = append(out, h.from[i])
	}
	return out, linModel.DescribeState(states)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
