package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Client talks to lockd. It is safe for concurrent use; create one per
// process and reuse it. Close it to release its leases and connections.
type Client struct {
	cfg config
	tr  *transports
	eps []*endpoint
	// cur is the index (mod len(eps)) of the endpoint requests go to;
	// it advances when that endpoint fails.
	cur atomic.Uint32

	mu       sync.Mutex
	sessions map[*LeaseSession]struct{}
	closed   bool
	// tokens maps lease ids to their latest fencing tokens (int64).
	tokens sync.Map
}

// New returns a client for one endpoint: https://host:port,
// http://host:port, unix:///path/to/lockd.sock, or a bare host[:port]
// (https unless WithDisableMTLS).
func New(baseURL string, opts ...Option) (*Client, error) {
	return NewWithEndpoints([]string{baseURL}, opts...)
}

// NewWithEndpoints returns a client for several endpoints of one cluster.
// Requests go to one endpoint until it fails (transport error, 503); then
// the client moves on to the next, within the same bounded retry budget of
// the call.
func NewWithEndpoints(endpoints []string, opts ...Option) (*Client, error) {
	c := &Client{cfg: defaultConfig(), sessions: map[*LeaseSession]struct{}{}}
	for _, o := range opts {
		o(&c.cfg)
	}
	var all []string
	for _, raw := range endpoints {
		list, err := ParseEndpoints(raw, c.cfg.disableMTLS)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	if len(all) == 0 {
		return nil, ErrNoEndpoints
	}
	var err error
	if c.tr, err = newTransports(&c.cfg, all); err != nil {
		return nil, err
	}
	for _, n := range all {
		ep, err := c.tr.endpoint(n)
		if err != nil {
			return nil, err
		}
		c.eps = append(c.eps, ep)
	}
	return c, nil
}

// Endpoints returns the client's endpoints, normalised.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.eps))
	for i, ep := range c.eps {
		out[i] = ep.raw
	}
	return out
}

// Namespace returns the client's default namespace ("" = the server's).
func (c *Client) Namespace() string { return c.cfg.namespace }

// ns resolves a call's namespace.
func (c *Client) ns(ns string) string {
	if ns != "" {
		return ns
	}
	return c.cfg.namespace
}

// Close releases (commits) every lease session still open, each within
// the close timeout, and closes idle connections. The client must not be
// used afterwards.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	open := make([]*LeaseSession, 0, len(c.sessions))
	for s := range c.sessions {
		open = append(open, s)
	}
	c.mu.Unlock()
	var errs []error
	for _, s := range open {
		errs = append(errs, s.Close())
	}
	for _, ep := range c.eps {
		ep.hc.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// RegisterLeaseToken records the fencing token of a lease obtained
// elsewhere (another process, the CLI's LOCKD_CLIENT_FENCING_TOKEN), so
// calls that name the lease by id present it.
func (c *Client) RegisterLeaseToken(leaseID string, token int64) {
	if leaseID != "" && token > 0 {
		c.tokens.Store(leaseID, token)
	}
}

// FencingToken returns the latest fencing token known for a lease, or 0.
func (c *Client) FencingToken(leaseID string) int64 {
	v, _ := c.tokens.Load(leaseID)
	n, _ := v.(int64)
	return n
}

func (c *Client) track(s *LeaseSession) {
	c.mu.Lock()
	c.sessions[s] = struct{}{}
	c.mu.Unlock()
}

func (c *Client) untrack(s *LeaseSession) {
	c.mu.Lock()
	delete(c.sessions, s)
	c.mu.Unlock()
	c.tokens.Delete(s.LeaseID)
}

// observeDrain is called when a server announced Shutdown-Imminent: every
// session releases its lease once no request of it is in flight.
func (c *Client) observeDrain() {
	if !c.cfg.drainAware {
		return
	}
	c.mu.Lock()
	open := make([]*LeaseSession, 0, len(c.sessions))
	for s := range c.sessions {
		open = append(open, s)
	}
	c.mu.Unlock()
	for _, s := range open {
		s.drainRequested()
	}
}

// timeoutCtx bounds a background call of the client (release, keepalive).
func (c *Client) timeoutCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
