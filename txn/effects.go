package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/store"
)

// env reads the clock and the leadership for the machine.
func (s *Service) env() env {
	term, leading := s.lead.Leading()
	return env{now: s.clock.Now().Unix(), term: term, leading: leading}
}

// retryPolicy: the machine retries an unfinished fan-out after the longest
// pause of a round's own backoff, doubling up to a minute (the leader's
// replay loop also retries every ReplayInterval).
func (s *Service) retryPolicy() retryPolicy {
	return retryPolicy{Base: s.cfg.Fanout.MaxDelay, Max: max(time.Minute, s.cfg.Fanout.MaxDelay)}
}

// perform runs an I/O effect of transaction id and returns the event that
// answers it. It runs off the actor.
func (s *Service) perform(id string, e effect) any {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FanoutTimeout)
	defer cancel()
	switch e := e.(type) {
	case effLoad:
		return s.load(ctx, id)
	case effWrite:
		cond := store.Cond{IfMatch: e.etag, IfNotExists: !e.exists}
		tag, err := s.st.Put(ctx, recordKey(id), e.rec.encode(), cond)
		if err != nil {
			return evWritten{err: fmt.Errorf("%w: write %s: %w", ErrUnavailable, id, err)}
		}
		return evWritten{etag: tag}
	case effEnlistOrigin:
		// The key that minted the txn becomes a participant if its lease
		// is still there; if it is gone, it already decided alone.
		ok, err := s.enlistOrigin(ctx, id, e.p)
		return evEnlisted{ok: ok, gone: !ok && err == nil, err: err}
	case effPrepare:
		return evPrepared{err: s.prepareAll(ctx, id, e.parts)}
	case effFanout:
		start := s.clock.Now()
		err := s.applyAll(ctx, id, e.term, e.state, e.targets)
		if len(e.rollback) > 0 {
			err = errors.Join(err, s.applyAll(ctx, id, e.term, Rollback, e.rollback))
		}
		observeFanout(s.clock.Now().Sub(start))
		failed := failedParticipants(err)
		if err != nil && len(failed) == 0 {
			failed = append(append([]Participant(nil), e.targets...), e.rollback...) // unknown which: none is known to have it
		}
		return evFannedOut{failed: failed, err: err}
	case effApplyLocal:
		return evApplied{err: s.applyLocal(ctx, id, e.parts, e.state, e.by)}
	}
	panic(fmt.Sprintf("txn: unknown effect %T", e))
}

func (s *Service) load(ctx context.Context, id string) evLoaded {
	got, err := s.st.Get(ctx, recordKey(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return evLoaded{}
	case err != nil:
		return evLoaded{err: fmt.Errorf("%w: load %s: %w", ErrUnavailable, id, err)}
	}
	rec, err := decodeRecord(got.Value)
	if err != nil {
		return evLoaded{err: fmt.Errorf("txn: record %s: %w", id, err)} // store.ErrCorrupt: not retryable
	}
	return evLoaded{rec: rec, etag: got.ETag, exists: true}
}

// applyLocal applies a decision taken elsewhere to participants this node
// serves (the RM side).
func (s *Service) applyLocal(ctx context.Context, id string, parts []Participant, state State, by string) error {
	var errs []error
	for _, p := range parts {
		if err := s.rm.Apply(ctx, id, p, state == Commit, by); err != nil {
			errs = append(errs, &participantError{P: p, Err: err})
		}
	}
	return errors.Join(errs...)
}

func (s *Service) count(c effCount) {
	switch c.metric {
	case metricDecision:
		recordDecision(c.state)
	case metricStaleTerm:
		staleRejected.Inc()
	case metricReplay:
		replays.Inc()
	}
}

// report makes an unfinished decision visible: a warning and a counter.
func (s *Service) report(id string, r effReport) {
	switch r.what {
	case failFanout:
		fanoutFailed.Inc()
		s.log.Warn().Err(r.err).Str("txn_id", id).Str("state", string(r.state)).
			Msg("decision durable, fan-out failed; retrying")
	case failAppliedWrite:
		appliedWriteFailed.Inc()
		s.log.Warn().Err(r.err).Str("txn_id", id).Str("state", string(r.state)).
			Msg("decision applied by every participant, writing the applied mark failed; retrying")
	}
}

// scheduleRetry sends the machine's retry of transaction id after d,
// through the registry (the actor may have passivated meanwhile).
func (s *Service) scheduleRetry(id string, d time.Duration) {
	retriesScheduled.Inc()
	t := s.clock.AfterFunc(d, func() {
		s.retries.Delete(id)
		if !s.closed.Load() {
			s.reg.Send(id, actors.NewRequest(&detached{op: &opRetry{}}))
		}
	})
	if old, loaded := s.retries.Swap(id, t); loaded {
		old.(interface{ Stop() bool }).Stop()
	}
}

// participantError is one participant's failure in a round.
type participantError struct {
	P   Participant
	Err error
}

func (e *participantError) Error() string {
	return "participant " + e.P.describe() + ": " + e.Err.Error()
}
func (e *participantError) Unwrap() error { return e.Err }

// failedParticipants lists the participants named by the
// participantErrors in err (a join of them, as applyAll returns).
func failedParticipants(err error) []Participant {
	if pe, ok := err.(*participantError); ok {
		return []Participant{pe.P}
	}
	var out []Participant
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, failedParticipants(e)...)
		}
	}
	return out
}
