package soak

import (
	"fmt"
	"time"
)

// Status is a check's verdict.
type Status string

// Verdicts. Inconclusive means the check could not decide (e.g. the
// linearizability search ran out of time); it fails a run like Failed.
const (
	Passed       Status = "pass"
	Failed       Status = "FAIL"
	Inconclusive Status = "inconclusive"
	Skipped      Status = "skipped"
	// Warning flags a finding that breaks no invariant (e.g. the server
	// needed a restart to recover); it does not fail a run.
	Warning Status = "warn"
)

// Verdict is the result of one invariant check over one phase.
type Verdict struct {
	Check     string    `json:"check"`
	Invariant string    `json:"invariant"` // what it proves, in words
	Phase     string    `json:"phase"`
	Status    Status    `json:"status"`
	Checked   int       `json:"checked"` // keys, operations or messages examined
	Summary   string    `json:"summary"`
	Failures  []Failure `json:"failures,omitempty"`
}

// Failure is one counterexample: what is wrong, and the smallest part of
// the history that shows it.
type Failure struct {
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
	History []Op   `json:"history,omitempty"`
	// Visualization is a porcupine HTML file of the key's history,
	// relative to the report directory ("" when none was written).
	Visualization string `json:"visualization,omitempty"`
}

// maxFailures bounds the counterexamples kept per verdict.
const maxFailures = 5

func (v *Verdict) fail(f Failure) {
	v.Status = Failed
	if len(v.Failures) < maxFailures {
		v.Failures = append(v.Failures, f)
	}
}

// Layout names the keys and queue of a phase's workloads.
type Layout struct {
	Namespace string
	Counters  []string   // lock-cycle keys
	Hot       []string   // blocking hot keys
	Groups    [][]string // transaction groups: every txn writes a whole group
	Queue     string
	// Island holds the keys served by island A (cross-island groups: the
	// first key of such a group); every other key is the phase's.
	Island map[string]bool
}

// AllKeys lists every counter key of the layout.
func (l Layout) AllKeys() []string {
	out := append(append([]string(nil), l.Counters...), l.Hot...)
	for _, g := range l.Groups {
		out = append(out, g...)
	}
	return out
}

// Final is what the harness read once traffic stopped and faults healed.
type Final struct {
	// Values are the committed values, read under a lease (so no
	// transaction or release was in flight on the key).
	Values map[string]Val
	// Missing are keys the sweep could not read.
	Missing []string
	// AfterCrash are the values re-read after a final kill -9 and restart
	// (nil when the phase's store is not durable).
	AfterCrash map[string]Val
	// Drained reports that the queue emptied (no ready, delayed or
	// in-flight message) within the drain's bound; Remaining counts what
	// was left otherwise.
	Drained   bool
	Remaining int64
	// DeadLetters are the queue's dead letters by message id.
	DeadLetters map[string]string // message id → reason
	// QueueChecked is false when the phase ran no queue traffic.
	QueueChecked bool
}

// CheckOptions bound the checkers.
type CheckOptions struct {
	// LinearizabilityTimeout bounds porcupine per key (default 20s).
	LinearizabilityTimeout time.Duration
	// VisualizeDir, when set, receives porcupine visualizations of
	// failing keys.
	VisualizeDir string
	// LeaseSlack is the clock tolerance of the lease-overlap check
	// (default 50ms).
	LeaseSlack time.Duration
}

// CheckPhase runs every checker over one phase's history.
func CheckPhase(phase string, ops []Op, l Layout, fin Final, o CheckOptions) []Verdict {
	if o.LinearizabilityTimeout <= 0 {
		o.LinearizabilityTimeout = 20 * time.Second
	}
	if o.LeaseSlack <= 0 {
		o.LeaseSlack = 50 * time.Millisecond
	}
	vs := []Verdict{
		checkLinearizable(phase, ops, l, o),
		checkFencing(phase, ops),
		checkLeaseOverlap(phase, ops, o.LeaseSlack),
		checkIncrements(phase, ops, l, fin),
		checkTxnAtomic(phase, ops, l, fin),
		checkDirtyReads(phase, ops),
		checkDurableAfterCrash(phase, l, fin),
		checkQueue(phase, ops, fin),
	}
	return vs
}

// describe formats an op in one line for failure messages.
func describe(op Op) string {
	s := fmt.Sprintf("#%d w%d %s", op.ID, op.Worker, op.Kind)
	if op.Key != "" {
		s += " " + op.Key
	}
	s += fmt.Sprintf(" [%s→%s] %s", fmtDur(op.Call), fmtDur(op.Return), op.Outcome)
	if op.Code != "" {
		s += " " + op.Code
	}
	if op.Token != 0 {
		s += fmt.Sprintf(" token=%d", op.Token)
	}
	if op.Read != nil {
		s += fmt.Sprintf(" read=%d/%s", op.Read.N, op.Read.W)
	}
	for i := range op.New {
		s += fmt.Sprintf(" %d/%s→%d/%s", op.Old[i].N, op.Old[i].W, op.New[i].N, op.New[i].W)
	}
	if op.Msg != "" {
		s += " msg=" + op.Msg
	}
	return s
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}
