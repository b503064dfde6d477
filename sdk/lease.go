package sdk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// AcquireOption adjusts one Acquire.
type AcquireOption func(*acquireOpts)

type acquireOpts struct {
	noKeepAlive bool
}

// WithoutKeepAlive leaves keeping the lease alive to the caller (no
// background keepalive), e.g. for a process that hands the lease to
// others and exits.
func WithoutKeepAlive() AcquireOption {
	return func(o *acquireOpts) { o.noKeepAlive = true }
}

// Acquire takes the lease on req.Key (a server-generated key when empty)
// and returns its session. req.Namespace defaults to the client's default
// namespace. req.BlockSeconds says how long to wait when the key is held:
// BlockWaitForever (0) until ctx ends, BlockNoWait (-1) not at all, n > 0
// about n seconds; a wait that runs out is ErrWaiting. With IfNotExists an
// existing key is ErrAlreadyExists (never retried).
//
// The session keeps the lease alive in the background at half its TTL
// (unless WithoutKeepAlive) until Release, Rollback or Close.
func (c *Client) Acquire(ctx context.Context, req api.AcquireRequest, opts ...AcquireOption) (*LeaseSession, error) {
	var o acquireOpts
	for _, f := range opts {
		f(&o)
	}
	req.Namespace = c.ns(req.Namespace)
	forever := req.BlockSeconds == BlockWaitForever
	for {
		body := req
		if forever {
			body.BlockSeconds = c.waitSlice(ctx)
		}
		r := newCall(http.MethodPost, "/v1/acquire")
		if err := r.jsonBody(body); err != nil {
			return nil, err
		}
		if body.BlockSeconds > 0 {
			r.wait = time.Duration(body.BlockSeconds) * time.Second
		}
		var out api.AcquireResponse
		hdr, err := c.doJSON(ctx, r, &out)
		if err == nil {
			return c.newSession(out, hdr, req.TTLSeconds, !o.noKeepAlive), nil
		}
		if !forever || body.BlockSeconds == BlockNoWait || !errors.Is(err, ErrWaiting) || ctx.Err() != nil {
			return nil, err
		}
		// The server waited its share; queue up again (a short pause
		// keeps a server that answers at once from being hammered).
		if err := sleep(ctx, backoff(0, 50*time.Millisecond, 50*time.Millisecond, 0)); err != nil {
			return nil, fmt.Errorf("%w; gave up waiting: %w", err, ctx.Err())
		}
	}
}

// waitSlice is the block_seconds of one round of a wait-forever acquire:
// the slice, or what is left of ctx's deadline (less a margin for the
// answer to arrive; -1 when under a second is left), so that the server
// never grants a lease nobody waits for.
func (c *Client) waitSlice(ctx context.Context) int64 {
	slice := c.cfg.acquireSlice
	if dl, ok := ctx.Deadline(); ok {
		rem := time.Until(dl) - 250*time.Millisecond
		if rem < time.Second {
			return BlockNoWait
		}
		slice = min(slice, rem)
	}
	return max(int64(slice/time.Second), 1)
}

// LeaseRef names a lease held elsewhere, e.g. by the process that
// exported the CLI's LOCKD_CLIENT_* variables.
type LeaseRef struct {
	Namespace    string
	Key          string
	LeaseID      string
	TxnID        string
	FencingToken int64
	// TTLSeconds is sent with keepalives (0 = the server's default TTL).
	TTLSeconds int64
}

// Resume returns a session for a lease acquired elsewhere. It keeps no
// background keepalive. A zero ref.FencingToken is taken from
// RegisterLeaseToken.
func (c *Client) Resume(ref LeaseRef) *LeaseSession {
	if ref.FencingToken == 0 {
		ref.FencingToken = c.FencingToken(ref.LeaseID)
	}
	out := api.AcquireResponse{Namespace: c.ns(ref.Namespace), Key: ref.Key, LeaseID: ref.LeaseID,
		TxnID: ref.TxnID, FencingToken: ref.FencingToken}
	return c.newSession(out, nil, ref.TTLSeconds, false)
}

func (c *Client) newSession(out api.AcquireResponse, hdr http.Header, ttlSeconds int64, keepAlive bool) *LeaseSession {
	if hdr != nil && out.FencingToken == 0 {
		out.FencingToken, _ = strconv.ParseInt(hdr.Get(api.HeaderFencingToken), 10, 64)
	}
	s := c.session(out, ttlSeconds)
	c.RegisterLeaseToken(out.LeaseID, out.FencingToken)
	c.track(s)
	if keepAlive && out.ExpiresAtUnix > 0 {
		s.startKeepAlive()
	}
	return s
}

// session builds a session that the client does not track (no drain
// release, not released by Client.Close).
func (c *Client) session(out api.AcquireResponse, ttlSeconds int64) *LeaseSession {
	s := &LeaseSession{AcquireResponse: out, c: c, ttlSeconds: ttlSeconds}
	s.expires = time.Unix(out.ExpiresAtUnix, 0)
	s.lost, s.cancelLost = context.WithCancelCause(context.Background())
	return s
}

// ttl is the lease duration keepalives renew to: the one asked for, or
// what the server granted at acquire time.
func (s *LeaseSession) ttl() time.Duration {
	if s.ttlSeconds > 0 {
		return time.Duration(s.ttlSeconds) * time.Second
	}
	d := time.Until(time.Unix(s.ExpiresAtUnix, 0))
	return max(time.Duration(math.Round(d.Seconds()))*time.Second, 2*time.Second)
}

// release sends /v1/release for a lease.
func (c *Client) release(ctx context.Context, ns, key, leaseID, txnID string, fencing int64, rollback bool) error {
	r := newCall(http.MethodPost, "/v1/release")
	r.header.Set(api.HeaderFencingToken, strconv.FormatInt(fencing, 10))
	if err := r.jsonBody(api.ReleaseRequest{Namespace: ns, Key: key, LeaseID: leaseID, TxnID: txnID, Rollback: rollback}); err != nil {
		return err
	}
	_, err := c.doJSON(ctx, r, nil)
	return err
}

// keepAlive sends /v1/keepalive and returns the new expiry.
func (c *Client) keepAlive(ctx context.Context, ref LeaseRef) (time.Time, error) {
	r := newCall(http.MethodPost, "/v1/keepalive")
	r.header.Set(api.HeaderFencingToken, strconv.FormatInt(ref.FencingToken, 10))
	if ref.TxnID != "" {
		r.header.Set(api.HeaderTxnID, ref.TxnID)
	}
	if err := r.jsonBody(api.KeepAliveRequest{Namespace: ref.Namespace, Key: ref.Key, LeaseID: ref.LeaseID,
		TTLSeconds: ref.TTLSeconds, TxnID: ref.TxnID}); err != nil {
		return time.Time{}, err
	}
	var out api.KeepAliveResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return time.Time{}, err
	}
	return time.Unix(out.ExpiresAtUnix, 0), nil
}

// Describe returns a key's lease holder (if any), committed version and
// metadata. An unknown key answers version 0 and no holder.
func (c *Client) Describe(ctx context.Context, key string, opts ...KeyOption) (*api.DescribeResponse, error) {
	r := c.keyCall(http.MethodGet, "/v1/describe", key, opts)
	var out api.DescribeResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyOption adjusts a call that names a key or queue without a lease.
type KeyOption func(*keyOpts)

type keyOpts struct{ namespace string }

// WithNamespace names the namespace of one call (default: the client's).
func WithNamespace(ns string) KeyOption {
	return func(o *keyOpts) { o.namespace = ns }
}

func (c *Client) keyCall(method, path, key string, opts []KeyOption) *call {
	var o keyOpts
	for _, f := range opts {
		f(&o)
	}
	r := newCall(method, path)
	r.query.Set("key", key)
	if ns := c.ns(o.namespace); ns != "" {
		r.query.Set("namespace", ns)
	}
	return r
}
