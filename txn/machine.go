package txn

import (
	"fmt"
	"time"
)

// The transaction's lifecycle is a pure state machine: step takes the
// machine, what the world looks like (env) and one event, and returns the
// next machine and the effects to perform. It does no I/O, reads no clock
// and starts no goroutine; the actor (actor.go) performs the effects and
// feeds their results back as events. So every transition is tested with
// a table (machine_test.go), and every failure is an explicit effect
// (report, retry, answer) that cannot be forgotten on one code path.
//
//	pending ──decide commit──▶ prepare ──ok──▶ write commit ─┐
//	   │                          └─refused─▶ write rollback ─┤
//	   └──decide rollback / expiry / replay of a dead one ────┤
//	                                                          ▼
//	           fan out ──ok──▶ write applied ──ok──▶ applied (answer)
//	              │                  └─failed─▶ report, retry, answer ErrFanout
//	              └─failed─▶ report, retry, answer ErrFanout
//
// One operation runs at a time: the actor queues the others and starts the
// next one when the machine answered (effAnswer ends every operation).

// env is what the machine knows of the world when an event arrives: the
// time and this node's TC leadership. The actor reads both; the machine
// never does.
type env struct {
	now     int64 // unix seconds
	term    uint64
	leading bool
}

// phase is what an operation in flight waits for.
type phase int

const (
	phaseIdle          phase = iota
	phaseLoading             // effLoad
	phaseEnlisting           // effEnlistOrigin (join)
	phasePreparing           // effPrepare (commit, or replay of a pending txn)
	phaseWriteJoin           // effWrite of the participants
	phaseWriteDecision       // effWrite of the decision
	phaseFanout              // effFanout
	phaseWriteApplied        // effWrite of the applied mark
	phaseApplyLocal          // effApplyLocal (RM side)
)

// retryPolicy spaces the machine's own retries of an unfinished fan-out:
// After doubles from Base up to Max with every failed round.
type retryPolicy struct{ Base, Max time.Duration }

func (p retryPolicy) after(failures int) time.Duration {
	d := p.Base
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// machine is one transaction's state: its record as last read or written,
// and the operation in flight.
type machine struct {
	id     string
	rec    record
	etag   string // the record's store ETag ("" before it exists)
	exists bool
	// loaded says rec reflects the store; a failed write clears it so the
	// next operation rereads the record (another leader may have written).
	loaded bool
	cur    work
	// failures counts fan-out rounds (or applied writes) that failed in a
	// row; it spaces the retries and resets once the record is applied.
	failures int
	// retryArmed is set while a retry is scheduled, so failures of other
	// operations do not schedule more.
	retryArmed bool
	policy     retryPolicy
}

func newMachine(id string, p retryPolicy) machine { return machine{id: id, policy: p} }

// work is the operation in flight; its zero value is "idle".
type work struct {
	op        any
	phase     phase
	want      State
	requester *Participant
	extra     []Participant
	term      uint64 // the decision's tc_term (0: none given)
	expires   int64
	parts     []Participant // the participants being written or decided
	cause     error         // why a requested commit became a rollback
	replaying bool          // a failed prepare rolls the pending txn back
	// strangers ask about a decided txn that does not list them: they
	// roll back whatever the decision.
	strangers []Participant
	next      record // the record being written
}

// Events: an operation starts, or an effect's result comes back.
type (
	evStart  struct{ op any }
	evLoaded struct {
		rec    record
		etag   string
		exists bool
		err    error
	}
	// evEnlisted: ok when the origin was enlisted; gone when its lease
	// ended (it decided alone); otherwise err says why it could not be.
	evEnlisted struct {
		ok, gone bool
		err      error
	}
	evPrepared struct{ err error }
	evWritten  struct {
		etag string
		err  error
	}
	// evFannedOut: failed lists the participants that did not apply the
	// decision (err is their errors).
	evFannedOut struct {
		failed []Participant
		err    error
	}
	evApplied struct{ err error }
)

// Effects: what the actor performs for the machine. The I/O effects (load,
// enlist, prepare, write, fan-out, apply) are answered with an event; at
// most one of them is in any step's effects, and it comes last.
type (
	effLoad         struct{}
	effEnlistOrigin struct{ p Participant }
	effPrepare      struct{ parts []Participant }
	// effWrite writes rec conditionally: on etag, or on absence when
	// !exists.
	effWrite struct {
		rec    record
		etag   string
		exists bool
	}
	// effFanout applies state to targets and a rollback to rollback (the
	// participants outside the decided set).
	effFanout struct {
		state    State
		term     uint64
		targets  []Participant
		rollback []Participant
	}
	effApplyLocal struct {
		state State
		parts []Participant
		by    string
	}
	// effTrack enters (on) or leaves the directory of transactions whose
	// participants must not decide alone.
	effTrack struct{ on bool }
	// effHit is a crash-test failpoint.
	effHit struct{ name string }
	// effCount increments a metric (a decision counts by its state).
	effCount struct {
		metric metric
		state  State
	}
	// effReport makes a failure visible: logged and counted.
	effReport struct {
		what  failure
		state State
		err   error
	}
	// effRetry schedules a retry of the fan-out (opRetry) after a pause.
	effRetry struct{ after time.Duration }
	// effAnswer answers the operation's caller and ends the operation.
	effAnswer struct {
		state State
		err   error
	}
)

type metric int

const (
	metricDecision metric = iota + 1
	metricStaleTerm
	metricReplay
)

type failure int

const (
	failFanout       failure = iota + 1 // a participant did not apply the decision
	failAppliedWrite                    // every participant applied it, the mark was not written
)

// step is the machine's transition function.
func step(m machine, in env, ev any) (machine, []effect) {
	effs := m.on(in, ev)
	return m, effs
}

type effect any

func (m *machine) on(in env, ev any) []effect {
	switch ev := ev.(type) {
	case evStart:
		if m.cur.op != nil {
			return nil // the actor starts an operation only when idle
		}
		return m.start(in, ev.op)
	case evLoaded:
		if m.cur.phase != phaseLoading {
			return nil
		}
		return m.loadedRec(in, ev)
	case evEnlisted:
		if m.cur.phase != phaseEnlisting {
			return nil
		}
		switch {
		case ev.ok:
			m.cur.parts = with(m.cur.parts, *m.cur.op.(*opJoin).origin)
		case !ev.gone:
			// The origin may still hold the transaction's lease: joining
			// without it would let a commit leave it out.
			return m.answer("", fmt.Errorf("%w: enlisting the key that minted the transaction: %w", ErrUnavailable, ev.err))
		}
		return m.writeJoin(in)
	case evPrepared:
		if m.cur.phase != phasePreparing {
			return nil
		}
		return m.prepared(in, ev.err)
	case evWritten:
		return m.written(in, ev)
	case evFannedOut:
		if m.cur.phase != phaseFanout {
			return nil
		}
		return m.fannedOut(in, ev)
	case evApplied:
		if m.cur.phase != phaseApplyLocal {
			return nil
		}
		return m.answer(m.cur.op.(*opApply).state, ev.err)
	}
	return nil
}

func (m *machine) start(in env, op any) []effect {
	m.cur = work{op: op}
	switch op := op.(type) {
	case *opJoin:
		if m.loaded {
			return m.join(in)
		}
		return m.load()
	case *opDecide:
		m.cur.want, m.cur.requester, m.cur.extra, m.cur.term, m.cur.expires = op.want, op.requester, op.extra, op.term, op.expires
		return m.reload()
	case *opExpired:
		p := op.p
		m.cur.want, m.cur.requester = Rollback, &p
		return m.reload()
	case *opReplay:
		return m.reload()
	case *opRetry:
		m.retryArmed = false
		return m.reload()
	case *opGet:
		if m.loaded {
			return m.get()
		}
		return m.load()
	case *opApply:
		m.cur.phase = phaseApplyLocal
		return []effect{effApplyLocal{state: op.state, parts: op.parts, by: op.by}}
	}
	return m.answer("", fmt.Errorf("txn: unknown operation %T", op))
}

// reload rereads the record: decisions and replays act on what the store
// holds, since a previous leader may have written it.
func (m *machine) reload() []effect {
	m.loaded = false
	return m.load()
}

func (m *machine) load() []effect {
	m.cur.phase = phaseLoading
	return []effect{effLoad{}}
}

func (m *machine) loadedRec(in env, ev evLoaded) []effect {
	if ev.err != nil {
		m.loaded = false
		return m.answer("", ev.err)
	}
	m.rec, m.etag, m.exists, m.loaded = ev.rec, ev.etag, ev.exists, true
	if !ev.exists {
		m.rec = record{ID: m.id, State: Pending}
	}
	switch m.cur.op.(type) {
	case *opJoin:
		return m.join(in)
	case *opDecide, *opExpired:
		return m.decide(in)
	case *opReplay:
		return m.replay(in)
	case *opRetry:
		return m.retry(in)
	case *opGet:
		return m.get()
	}
	return m.answer("", fmt.Errorf("txn: operation %T loaded a record", m.cur.op))
}

func (m *machine) get() []effect {
	if !m.exists {
		return m.answer("", ErrNotFound)
	}
	return m.answer(m.rec.State, nil)
}

// answer ends the operation.
func (m *machine) answer(st State, err error) []effect {
	m.cur = work{}
	return []effect{effAnswer{state: st, err: err}}
}

// write starts a conditional write of rec, after pre.
func (m *machine) write(ph phase, rec record, pre ...effect) []effect {
	m.cur.phase, m.cur.next = ph, rec
	return append(pre, effWrite{rec: rec, etag: m.etag, exists: m.exists})
}

func (m *machine) written(in env, ev evWritten) []effect {
	ph := m.cur.phase
	if ph != phaseWriteJoin && ph != phaseWriteDecision && ph != phaseWriteApplied {
		return nil
	}
	if ev.err != nil {
		m.loaded = false // reread before the next operation
		if ph == phaseWriteApplied {
			err := fmt.Errorf("marking applied: %w", ev.err)
			return m.unfinished(in, failAppliedWrite, nil, err)
		}
		return m.answer("", ev.err)
	}
	m.rec, m.etag, m.exists, m.loaded = m.cur.next, ev.etag, true, true
	switch ph {
	case phaseWriteJoin:
		return m.answer(Pending, nil)
	case phaseWriteDecision:
		return append([]effect{effCount{metric: metricDecision, state: m.rec.State}, effHit{"txn-after-decision"}}, m.fanout(in, m.rec.Participants)...)
	}
	m.failures = 0
	return append([]effect{effTrack{on: false}}, m.answer(m.rec.State, m.aborted())...)
}
