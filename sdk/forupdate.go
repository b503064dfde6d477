package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/sdk/api"
)

// Snapshot is what an AcquireForUpdate handler works with: the held lease
// (stage changes with Save, Update, Remove, Attach, …) and the state as
// the lease saw it when the handler started.
type Snapshot struct {
	*LeaseSession
	// State is the state at the start; it is closed when the handler
	// returns.
	State *GetResponse
}

// Exists reports whether the key had state at the start.
func (s *Snapshot) Exists() bool { return s.State.HasState }

// Decode decodes the starting state into v (left as is without state).
func (s *Snapshot) Decode(v any) error { return s.State.Decode(v) }

// Bytes returns the starting state (nil without state).
func (s *Snapshot) Bytes() ([]byte, error) { return s.State.Bytes() }

// AcquireForUpdate acquires req's lease, reads the state and runs fn with
// both. While fn runs the lease is kept alive; if it is lost, fn's context
// is cancelled with the reason. When fn returns, the lease is released:
// committed if fn returned nil, rolled back otherwise. fn's error (or the
// release's) is returned.
//
// Only the handshake (acquire, then read) is retried, up to the client's
// WithAcquireFailureRetries, when it fails with a lost lease, throttling,
// an unavailable node or a transport error; already_exists is final.
func (c *Client) AcquireForUpdate(ctx context.Context, req api.AcquireRequest, fn func(context.Context, *Snapshot) error) error {
	snap, err := c.forUpdateHandshake(ctx, req)
	if err != nil {
		return err
	}
	sess := snap.LeaseSession
	if err := sess.begin(); err != nil { // pins the session: no drain release mid-handler
		snap.State.Close()
		return err
	}
	hctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(sess.lost, func() { cancel(context.Cause(sess.lost)) })
	herr := runHandler(hctx, fn, snap)
	stop()
	cancel(nil)
	snap.State.Close()
	// The pin is dropped only after the release, so a drain release
	// cannot commit what a failed handler staged.
	defer sess.end()
	rctx, rcancel := c.timeoutCtx(c.cfg.closeTimeout)
	defer rcancel()
	if herr != nil {
		if rerr := sess.Rollback(rctx); rerr != nil && !errors.Is(rerr, ErrSessionClosed) {
			return errors.Join(herr, rerr)
		}
		return herr
	}
	return sess.finish(sess.ctx(rctx), false, nil)
}

// runHandler runs fn, turning a panic into an error so the lease is
// still rolled back.
func runHandler(ctx context.Context, fn func(context.Context, *Snapshot) error, snap *Snapshot) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("lockd: AcquireForUpdate handler panicked: %v", p)
		}
	}()
	return fn(ctx, snap)
}

// forUpdateHandshake acquires and reads, retrying failed rounds.
func (c *Client) forUpdateHandshake(ctx context.Context, req api.AcquireRequest) (*Snapshot, error) {
	for attempt := 0; ; attempt++ {
		snap, err := c.tryHandshake(ctx, req)
		if err == nil {
			return snap, nil
		}
		retry, _ := retryable(ctx, err)
		retry = retry || isLeaseGone(err)
		if !retry || attempt >= c.cfg.acquireRetries {
			return nil, err
		}
		if err := sleep(ctx, backoff(attempt, c.cfg.backoffBase, c.cfg.backoffMax, 0)); err != nil {
			return nil, err
		}
	}
}

func (c *Client) tryHandshake(ctx context.Context, req api.AcquireRequest) (*Snapshot, error) {
	sess, err := c.Acquire(ctx, req)
	if err != nil {
		return nil, err
	}
	st, err := sess.Get(ctx)
	if err != nil {
		rctx, cancel := c.timeoutCtx(c.cfg.closeTimeout)
		_ = sess.Rollback(rctx)
		cancel()
		return nil, err
	}
	return &Snapshot{LeaseSession: sess, State: st}, nil
}
