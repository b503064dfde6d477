package txn

import (
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/keyspace"
)

// join adds a participant to a pending transaction (and the key that
// minted it, when the record is new and that key's lease is still there).
func (m *machine) join(in env) []effect {
	op := m.cur.op.(*opJoin)
	if m.rec.State.Decided() {
		return m.answer(m.rec.State, ErrDecided)
	}
	m.cur.parts = m.rec.Participants
	if op.p.Namespace != "" { // a bare join (decide pending) only creates the record
		m.cur.parts = with(m.cur.parts, op.p)
	}
	if op.origin != nil && !m.exists && !op.origin.same(op.p) {
		if op.enlisted {
			m.cur.parts = with(m.cur.parts, *op.origin)
			return m.writeJoin(in)
		}
		m.cur.phase = phaseEnlisting
		return []effect{effEnlistOrigin{p: *op.origin}}
	}
	return m.writeJoin(in)
}

func (m *machine) writeJoin(in env) []effect {
	rec := m.rec
	if !m.exists {
		rec.Created = in.now
	}
	rec.Participants = m.cur.parts
	// Tracked before the write: a racing release must delegate.
	return m.write(phaseWriteJoin, rec, effTrack{on: true})
}

// decide takes the decision (only the leader does), or applies the one
// already recorded.
func (m *machine) decide(in env) []effect {
	if m.rec.State.Decided() {
		return m.redecide(in)
	}
	if !in.leading {
		return m.answer("", fmt.Errorf("%w: this node no longer leads the TC", ErrUnavailable))
	}
	if m.cur.term != 0 && m.cur.term < in.term {
		err := fmt.Errorf("%w: %d < %d", ErrStaleTerm, m.cur.term, in.term)
		return append([]effect{effCount{metric: metricStaleTerm}}, m.answer("", err)...)
	}
	parts := m.rec.Participants
	if m.cur.requester != nil {
		parts = with(parts, *m.cur.requester)
	}
	m.cur.parts = with(parts, m.cur.extra...)
	if m.cur.want == Commit {
		m.cur.phase = phasePreparing
		return []effect{effPrepare{parts: m.cur.parts}}
	}
	return m.record(in, Rollback, nil)
}

// redecide answers a decision or an expiry that arrives after the
// decision: the recorded decision is applied again, to every participant
// until the record is applied, then only to those that ask. A participant
// that asks but is not in the record (a key that minted the transaction
// and was never listed, e.g. when its origin was lost in a restart) was
// never part of the decided set: it rolls back whatever the decision, so
// its lapsed, enlisted lease is released and a commit never reaches it.
// Its rollback is not retried by the machine; the key asks again (every
// settle of its lapsed lease) until it has it.
func (m *machine) redecide(in env) []effect {
	var asking []Participant
	if m.cur.requester != nil {
		asking = append(asking, *m.cur.requester)
	}
	asking = with(asking, m.cur.extra...)
	var members, strangers []Participant
	for _, p := range asking {
		if listed(m.rec.Participants, p) {
			members = append(members, p)
		} else {
			strangers = append(strangers, p)
		}
	}
	m.cur.strangers = strangers
	targets := m.rec.Participants
	if m.rec.Applied && len(asking) > 0 {
		targets = members
	}
	if m.rec.State == Rollback {
		return m.fanout(in, with(targets, strangers...))
	}
	return m.fanout(in, targets, strangers...)
}

// listed reports whether p is one of ps.
func listed(ps []Participant, p Participant) bool {
	for _, q := range ps {
		if q.same(p) {
			return true
		}
	}
	return false
}

func (m *machine) prepared(in env, err error) []effect {
	if errors.Is(err, keyspace.ErrInDoubt) {
		// A participant voted yes to another island's coordinator: that
		// coordinator decides, not this one. The record stays pending.
		if m.cur.replaying {
			return m.answer(Pending, nil)
		}
		return m.answer("", err)
	}
	if m.cur.replaying {
		if err == nil {
			return m.answer(Pending, nil) // every participant is still there
		}
		m.cur.replaying, m.cur.want = false, Rollback
		return m.decide(in)
	}
	if err != nil {
		return m.record(in, Rollback, err)
	}
	return m.record(in, Commit, nil)
}

// record writes the decision durably, before any participant applies it.
func (m *machine) record(in env, state State, cause error) []effect {
	rec := m.rec
	rec.State, rec.Participants, rec.Term, rec.Decided = state, m.cur.parts, in.term, in.now
	if m.cur.expires != 0 {
		rec.Expires = m.cur.expires
	}
	m.cur.cause = cause
	return m.write(phaseWriteDecision, rec, effHit{"txn-before-decision"}, effTrack{on: true})
}

// fanout applies the recorded decision to targets, and a rollback to
// strangers (participants outside the decided set). It carries the term of
// the leader that sends it: a new leader re-sends a predecessor's durable
// decision in its own term, and a deposed leader's sends are refused.
func (m *machine) fanout(in env, targets []Participant, strangers ...Participant) []effect {
	term := m.rec.Term
	if in.leading {
		term = in.term
	}
	m.cur.phase = phaseFanout
	return []effect{effFanout{state: m.rec.State, term: term, targets: targets, rollback: strangers}}
}

func (m *machine) fannedOut(in env, ev evFannedOut) []effect {
	if ev.err != nil {
		return m.unfinished(in, failFanout, ev.failed, ev.err)
	}
	if m.rec.Applied {
		m.failures = 0
		return m.answer(m.rec.State, m.aborted())
	}
	next := m.rec
	next.Applied = true
	return m.write(phaseWriteApplied, next, effHit{"txn-mid-apply"})
}

// unfinished handles a decision that is durable but not applied
// everywhere (or not marked so): the failure is reported, a retry is
// scheduled while this node leads, and the caller gets a *FanoutError.
func (m *machine) unfinished(in env, what failure, failed []Participant, err error) []effect {
	st := m.rec.State
	effs := []effect{effReport{what: what, state: st, err: err}}
	m.failures++
	if in.leading && !m.retryArmed {
		m.retryArmed = true
		effs = append(effs, effRetry{after: m.policy.after(m.failures)})
	}
	var out error = &FanoutError{TxnID: m.id, State: st, Failed: failed, Err: err}
	if ab := m.aborted(); ab != nil {
		out = errors.Join(ab, out)
	}
	return append(effs, m.answer(st, out)...)
}

// aborted turns a rollback of a requested commit into ErrAborted: the
// transaction's, or that of a requester outside the decided set.
func (m *machine) aborted() error {
	if m.cur.want == Commit && len(m.cur.strangers) > 0 {
		return fmt.Errorf("%w: %s not in the decided transaction, rolled back", ErrAborted, m.cur.strangers[0].describe())
	}
	if m.cur.want != Commit || m.rec.State != Rollback {
		return nil
	}
	if m.cur.cause != nil {
		return fmt.Errorf("%w: %w", ErrAborted, m.cur.cause)
	}
	return ErrAborted
}

// replay re-applies a decision, or rolls back a pending transaction whose
// participants are gone or whose deadline passed.
func (m *machine) replay(in env) []effect {
	if !m.exists {
		return m.answer("", ErrNotFound)
	}
	counted := effCount{metric: metricReplay}
	if m.rec.State.Decided() {
		return append([]effect{counted}, m.fanout(in, m.rec.Participants)...)
	}
	if m.rec.Expires != 0 && in.now >= m.rec.Expires {
		m.cur.want = Rollback
		return append([]effect{counted}, m.decide(in)...)
	}
	m.cur.replaying = true
	m.cur.phase = phasePreparing
	return []effect{counted, effPrepare{parts: m.rec.Participants}}
}

// retry finishes a decided, unapplied record (the machine's own retry).
// Anything else is not its business: a pending record is the replay
// loop's, an applied one is done.
func (m *machine) retry(in env) []effect {
	if !m.exists {
		return m.answer("", ErrNotFound)
	}
	if !m.rec.State.Decided() || m.rec.Applied {
		return m.answer(m.rec.State, nil)
	}
	return m.fanout(in, m.rec.Participants)
}
