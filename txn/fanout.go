package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/lockdhq/lockd/keyspace"
)

// Fanout tunes the coordinator's calls to remote resource managers (lockd
// v0.9's --tc-fanout-* flags).
type Fanout struct {
	// Timeout bounds one remote call (default 5s).
	Timeout time.Duration
	// Attempts is how many times a remote call is tried (default 4).
	Attempts int
	// BaseDelay, MaxDelay and Multiplier shape the exponential backoff
	// between attempts (defaults 100ms, 2s, 2).
	BaseDelay, MaxDelay time.Duration
	Multiplier          float64
}

func (f Fanout) withDefaults() Fanout {
	if f.Timeout <= 0 {
		f.Timeout = 5 * time.Second
	}
	if f.Attempts <= 0 {
		f.Attempts = 4
	}
	if f.BaseDelay <= 0 {
		f.BaseDelay = 100 * time.Millisecond
	}
	if f.MaxDelay <= 0 {
		f.MaxDelay = 2 * time.Second
	}
	if f.Multiplier < 1 {
		f.Multiplier = 2
	}
	return f
}

// delay is the pause after attempt (0-based) failed.
func (f Fanout) delay(attempt int) time.Duration {
	d := float64(f.BaseDelay)
	for i := 0; i < attempt; i++ {
		d *= f.Multiplier
		if d >= float64(f.MaxDelay) {
			return f.MaxDelay
		}
	}
	return time.Duration(d)
}

// final reports errors that retrying cannot fix: a newer leader exists, the
// RM recorded another decision, or the participant is invalid.
func final(err error) bool {
	var fe finalError
	return errors.As(err, &fe) || errors.Is(err, ErrPrepareRefused) || errors.Is(err, ErrStaleTerm) || errors.Is(err, ErrDecided) || errors.Is(err, ErrUnknownParticipant) ||
		errors.Is(err, ErrInvalidState) || errors.Is(err, keyspace.ErrInDoubt)
}

// finalError wraps an error that retrying in the same round cannot fix.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }
func (e finalError) Unwrap() error { return e.err }

// noRetry marks a local call's failure final: this node's actors have
// answered, and the next replay round tries again.
func noRetry(err error) error {
	if err == nil {
		return nil
	}
	return finalError{err}
}

// retry runs fn with a per-attempt timeout and backoff until it succeeds,
// fails finally, attempts run out or ctx ends; it returns the last error.
// Attempts after the first count in retries, if set.
func (s *Service) retry(ctx context.Context, retries *metrics.Counter, fn func(context.Context) error) error {
	f := s.cfg.Fanout
	var err error
	for attempt := 0; attempt < f.Attempts; attempt++ {
		if attempt > 0 && retries != nil {
			retries.Inc()
		}
		actx, cancel := context.WithTimeout(ctx, f.Timeout)
		err = fn(actx)
		cancel()
		if err == nil || final(err) {
			return err
		}
		if attempt == f.Attempts-1 {
			break
		}
		t := time.NewTimer(f.delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}

// route says where p is applied: "" here, else a node's or island's URL.
func (s *Service) route(ctx context.Context, p Participant) (string, error) {
	if s.remote == nil {
		return "", nil
	}
	return s.remote.Route(ctx, p)
}

// prepareAll checks that every participant can still commit, asking the
// nodes that serve them.
func (s *Service) prepareAll(ctx context.Context, txnID string, parts []Participant) error {
	return s.forEach(ctx, parts, func(ctx context.Context, p Participant) error {
		return s.retry(ctx, nil, func(actx context.Context) error {
			ep, err := s.route(actx, p)
			if err != nil {
				return err
			}
			if ep == "" {
				return noRetry(s.rm.Prepare(actx, txnID, p, keyspace.OwnTC))
			}
			return s.remote.Prepare(actx, ep, txnID, keyspace.OwnTC, []Participant{p})
		})
	}, true)
}

// applyAll applies a decision of term to every participant, each through
// the node or island that serves it, retrying with backoff; it returns
// every participant's failure. Each participant counts as applied or
// failed.
func (s *Service) applyAll(ctx context.Context, txnID string, term uint64, state State, parts []Participant) error {
	return s.forEach(ctx, parts, func(ctx context.Context, p Participant) error {
		err := s.retry(ctx, applyRetries, func(actx context.Context) error {
			ep, err := s.route(actx, p)
			if err != nil {
				return err
			}
			if ep == "" {
				return noRetry(s.rm.Apply(actx, txnID, p, state == Commit, keyspace.OwnTC))
			}
			return s.remote.Apply(actx, ep, DecideRequest{TxnID: txnID, State: state, Term: term,
				Participants: []Participant{p}, Target: p.BackendHash})
		})
		if err != nil {
			applyFailed.Inc()
		} else {
			applyApplied.Inc()
		}
		return err
	}, false)
}

// forEach runs fn for every participant concurrently; with firstOnly it
// returns the first failure, else all of them.
func (s *Service) forEach(ctx context.Context, parts []Participant, fn func(context.Context, Participant) error, firstOnly bool) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panicking resource manager is this participant's
				// failure, not the process's end.
				if v := recover(); v != nil {
					mu.Lock()
					errs = append(errs, &participantError{P: p, Err: fmt.Errorf("%w: internal error: %v", ErrUnavailable, v)})
					mu.Unlock()
				}
			}()
			if err := fn(ctx, p); err != nil {
				mu.Lock()
				errs = append(errs, &participantError{P: p, Err: err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 {
		return nil
	}
	if firstOnly {
		return errs[0]
	}
	return errors.Join(errs...)
}
