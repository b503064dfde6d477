package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// LeaseSession is a held lease: the key's state and attachments are read
// and staged through it, and Release commits what was staged. The embedded
// AcquireResponse is the grant (its ExpiresAtUnix is the first expiry; see
// ExpiresAt). Methods are safe for concurrent use.
type LeaseSession struct {
	api.AcquireResponse

	c          *Client
	ttlSeconds int64

	// lost ends (with the cause) when the lease is lost or the session
	// ends; AcquireForUpdate cancels its handler with it.
	lost       context.Context
	cancelLost context.CancelCauseFunc

	// relMu serialises releases, so a second caller waits for the first.
	relMu    sync.Mutex
	mu       sync.Mutex
	expires  time.Time
	state    sessionState
	endErr   error // what calls on an ended session return
	inflight int   // requests (and pinned handlers) under way
	drain    bool  // the server is draining: release when idle
	stopKA   chan struct{}
	kaDone   chan struct{}
}

type sessionState uint8

const (
	sessionOpen sessionState = iota
	sessionEnding
	sessionEnded
)

// ExpiresAt is the lease's expiry as of the last acquire or keepalive.
func (s *LeaseSession) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expires
}

// Ref returns the lease's identity, e.g. to hand it to another process.
func (s *LeaseSession) Ref() LeaseRef {
	return LeaseRef{Namespace: s.Namespace, Key: s.Key, LeaseID: s.LeaseID, TxnID: s.TxnID,
		FencingToken: s.FencingToken, TTLSeconds: s.ttlSeconds}
}

// Done is closed when the session ends or its lease is lost; Err then
// says why.
func (s *LeaseSession) Done() <-chan struct{} { return s.lost.Done() }

// Draining reports whether the server announced a drain
// (Shutdown-Imminent) to this session's client; a drain-aware client
// then releases the session as soon as none of its requests is in flight.
func (s *LeaseSession) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drain
}

// Err returns nil while the session is usable, else why it is not.
func (s *LeaseSession) Err() error {
	if s.lost.Err() == nil {
		return nil
	}
	return context.Cause(s.lost)
}

// begin registers a request of the session; end must follow.
func (s *LeaseSession) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != sessionOpen {
		if s.endErr != nil {
			return s.endErr
		}
		return ErrSessionClosed
	}
	s.inflight++
	return nil
}

func (s *LeaseSession) end() {
	s.mu.Lock()
	s.inflight--
	idle := s.inflight == 0 && s.drain && s.state == sessionOpen
	s.mu.Unlock()
	if idle {
		go s.drainRelease()
	}
}

// drainRequested marks the server as draining; an idle session releases.
func (s *LeaseSession) drainRequested() {
	s.mu.Lock()
	first := !s.drain
	s.drain = true
	idle := s.inflight == 0 && s.state == sessionOpen
	s.mu.Unlock()
	if first && idle {
		go s.drainRelease()
	}
}

func (s *LeaseSession) drainRelease() {
	ctx, cancel := s.c.timeoutCtx(s.c.cfg.closeTimeout)
	defer cancel()
	reason := fmt.Errorf("%w: released because the server is draining", ErrSessionClosed)
	err := s.finish(ctx, false, reason)
	s.c.cfg.logger.Debug("lockd: released lease of a draining server", "key", s.Key, "lease_id", s.LeaseID, "err", err)
}

// ctx adds the session's correlation id unless ctx carries one.
func (s *LeaseSession) ctx(ctx context.Context) context.Context {
	if s.CorrelationID != "" && CorrelationIDFromContext(ctx) == "" {
		return WithCorrelationID(ctx, s.CorrelationID)
	}
	return ctx
}

// leaseCall builds a request that proves the lease with the X-Lease-ID,
// X-Txn-ID and X-Fencing-Token headers.
func (s *LeaseSession) leaseCall(method, path string) *call {
	r := newCall(method, path)
	r.query.Set("key", s.Key)
	if s.Namespace != "" {
		r.query.Set("namespace", s.Namespace)
	}
	r.header.Set(api.HeaderLeaseID, s.LeaseID)
	r.header.Set(api.HeaderTxnID, s.TxnID)
	r.header.Set(api.HeaderFencingToken, strconv.FormatInt(s.FencingToken, 10))
	return r
}

// doJSON runs a lease-bound request as in-flight work of the session.
func (s *LeaseSession) doJSON(ctx context.Context, r *call, out any) (http.Header, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	return s.c.doJSON(s.ctx(ctx), r, out)
}

// KeepAlive extends the lease to now + ttl (0: the session's TTL) and
// returns the new expiry.
func (s *LeaseSession) KeepAlive(ctx context.Context, ttl time.Duration) (time.Time, error) {
	if err := s.begin(); err != nil {
		return time.Time{}, err
	}
	defer s.end()
	ref := s.Ref()
	if ttl > 0 {
		ref.TTLSeconds = int64((ttl + time.Second - 1) / time.Second)
	}
	exp, err := s.c.keepAlive(s.ctx(ctx), ref)
	if err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	s.expires = exp
	s.mu.Unlock()
	return exp, nil
}

// Release ends the lease and commits what was staged under it. Calling it
// on a session that already ended returns nil if it ended by a release,
// else the reason it ended. A release the server refuses because the lease
// is gone returns that error: what was staged is lost.
func (s *LeaseSession) Release(ctx context.Context) error {
	return s.finish(s.ctx(ctx), false, nil)
}

// Rollback ends the lease and discards what was staged under it. A lease
// that is already gone counts as rolled back.
func (s *LeaseSession) Rollback(ctx context.Context) error {
	err := s.finish(s.ctx(ctx), true, nil)
	if isLeaseGone(err) {
		return nil
	}
	return err
}

// Close releases (commits) the lease within the client's close timeout;
// a lease that is already gone is not an error. It is the usual deferred
// call after Acquire.
func (s *LeaseSession) Close() error {
	ctx, cancel := s.c.timeoutCtx(s.c.cfg.closeTimeout)
	defer cancel()
	err := s.finish(s.ctx(ctx), false, nil)
	if isLeaseGone(err) || errors.Is(err, ErrSessionClosed) {
		return nil
	}
	return err
}

// finish releases the lease once. A transport failure leaves the session
// open so the release can be tried again.
func (s *LeaseSession) finish(ctx context.Context, rollback bool, reason error) error {
	s.relMu.Lock()
	defer s.relMu.Unlock()
	s.mu.Lock()
	if s.state == sessionEnded {
		err := s.endErr
		s.mu.Unlock()
		if reason == nil && errors.Is(err, errReleased) {
			return nil
		}
		return err
	}
	s.state = sessionEnding
	s.mu.Unlock()
	s.stopKeepAlive()
	err := s.c.release(ctx, s.Namespace, s.Key, s.LeaseID, s.TxnID, s.FencingToken, rollback)
	if err != nil && !isLeaseGone(err) {
		s.mu.Lock()
		s.state = sessionOpen
		s.mu.Unlock()
		if s.kaDone != nil {
			s.startKeepAlive()
		}
		return err
	}
	switch {
	case err != nil:
		s.ended(fmt.Errorf("%w: %w", ErrSessionClosed, err))
	case reason != nil:
		s.ended(fmt.Errorf("%w (%w)", reason, errReleased))
	default:
		s.ended(errReleased)
	}
	return err
}

// errReleased is why a released session refuses further calls.
var errReleased = fmt.Errorf("%w: lease released", ErrSessionClosed)

// ended marks the session over.
func (s *LeaseSession) ended(why error) {
	s.mu.Lock()
	s.state, s.endErr = sessionEnded, why
	s.mu.Unlock()
	s.cancelLost(why)
	s.c.untrack(s)
}

// lose marks the lease lost (keepalive refused or expired).
func (s *LeaseSession) lose(err error) {
	s.mu.Lock()
	if s.state != sessionOpen {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.ended(fmt.Errorf("%w: lease lost: %w", ErrSessionClosed, err))
}
