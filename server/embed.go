package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/store"
)

// ErrServerClosed is returned by Start when the server was shut down
// before it started.
var ErrServerClosed = errors.New("server: closed")

// Option configures NewServer.
type Option func(*Config) error

// WithBackend serves st instead of opening Config.Store; the server closes
// it on shutdown.
func WithBackend(st store.Store) Option {
	return func(c *Config) error { c.Backend = st; return nil }
}

// WithLogger sets the server's logger (default: discard).
func WithLogger(l zerolog.Logger) Option {
	return func(c *Config) error { c.Logger = l; return nil }
}

// WithListener serves on ln instead of listening on Config.Listen; the
// server closes it on shutdown.
func WithListener(ln net.Listener) Option {
	return func(c *Config) error { c.listener = ln; return nil }
}

// WithBundlePath loads the server bundle (CA, certificate, key, storage
// key) at path: the server serves mutual TLS and encrypts the store
// unless Config.Security says otherwise, and follows the file's denylist
// (lockd auth revoke).
func WithBundlePath(path string) Option {
	return func(c *Config) error {
		b, err := tlsutil.LoadServerBundle(path)
		if err != nil {
			return err
		}
		c.Security.Bundle, c.Security.BundlePath = b, path
		return nil
	}
}

// WithBundlePEM uses a server bundle given as PEM (bundle.CreateServerBundle
// makes one), as WithBundlePath does.
func WithBundlePEM(pem []byte) Option {
	return func(c *Config) error {
		b, err := tlsutil.ParseServerBundle(pem)
		if err != nil {
			return err
		}
		c.Security.Bundle, c.Security.BundlePath = b, ""
		return nil
	}
}

// embedding is the life of a Server made by NewServer: made, then
// started once, then ready or failed, then shut down.
type embedding struct {
	cfg     Config
	mu      sync.Mutex
	started bool
	stopped bool
	ready   chan struct{} // closed once the node serves
	failed  chan struct{} // closed when Start failed; startErr says why
	err     error
}

// NewServer checks cfg, applies opts and returns a server that Start
// runs, as lockd v0.9's lockd.NewServer does:
//
//	srv, err := server.NewServer(server.Config{Store: "disk:///var/lib/lockd"})
//	go srv.Start()
//	if err := srv.WaitUntilReady(ctx); err != nil { … }
//	defer srv.Shutdown(ctx)
//
// Nothing is opened before Start.
func NewServer(cfg Config, opts ...Option) (*Server, error) {
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("server: option: %w", err)
		}
	}
	if err := cfg.Security.Validate(); err != nil {
		return nil, err
	}
	if _, err := cfg.HA.config(); err != nil {
		return nil, err
	}
	return &Server{embed: &embedding{cfg: cfg, ready: make(chan struct{}), failed: make(chan struct{})}}, nil
}

// Start opens the store, listens and serves, and blocks until the server
// stops (Shutdown, Abort, or a listener that fails); it returns what
// stopping reported, nil for a clean shutdown. Start runs once.
func (s *Server) Start() error {
	e := s.embed
	if e == nil {
		return errors.New("server: Start is for servers made by NewServer")
	}
	e.mu.Lock()
	switch {
	case e.stopped:
		e.mu.Unlock()
		return ErrServerClosed
	case e.started:
		e.mu.Unlock()
		return errors.New("server: already started")
	}
	e.started = true
	err := s.start(e.cfg)
	if err != nil {
		e.err = err
		close(e.failed)
		e.mu.Unlock()
		return err
	}
	close(e.ready)
	e.mu.Unlock()
	<-s.served
	// Serve returned: a Shutdown is under way, or the listener failed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Close(ctx)
	return s.closeErr
}

// WaitUntilReady blocks until the server serves, Start failed (its error),
// or ctx ends.
func (s *Server) WaitUntilReady(ctx context.Context) error {
	e := s.embed
	if e == nil {
		return nil // made by Start: serving already
	}
	select {
	case <-e.ready:
		return nil
	case <-e.failed:
		return e.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListenerAddr is the address the server listens on, or nil before it
// serves.
func (s *Server) ListenerAddr() net.Addr {
	if e := s.embed; e != nil {
		select {
		case <-e.ready:
		default:
			return nil
		}
	}
	return s.ln.Addr()
}

// Shutdown drains (new acquires are refused, responses carry
// Shutdown-Imminent), leaves the cluster, waits up to ctx for in-flight
// requests, then stops the services and closes the store. A server that
// has not started will not start.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.running() {
		return nil
	}
	s.Drain()
	return s.Close(ctx)
}

// Abort stops at once, as a crash would as far as peers can tell: the
// node does not announce that it leaves the cluster (the others find it
// dead), and requests in flight are cut. Stored state is closed cleanly.
// For tests of failure handling.
func (s *Server) Abort(ctx context.Context) error {
	if !s.running() {
		return nil
	}
	s.life.Lock()
	s.abort = true
	s.life.Unlock()
	cut, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Close(cut)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// running reports whether there is a started node to stop, and marks an
// unstarted NewServer server as stopped.
func (s *Server) running() bool {
	e := s.embed
	if e == nil {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// Handler returns the server as a net/http handler, to mount lockd in an
// existing mux. Requests reach the same fasthttp edge over an in-memory
// connection, streaming both ways (attachments, NDJSON, subscribe). The
// handler does no TLS of its own: under mutual TLS the edge authorizes by
// client certificate, which these requests do not carry, so mount it on
// a server with mTLS disabled (Config.Security.DisableMTLS). Call it
// after WaitUntilReady.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() { s.httpHandler = s.newHTTPHandler() })
	return s.httpHandler
}

func (s *Server) newHTTPHandler() http.Handler {
	ln := fasthttputil.NewInmemoryListener()
	go s.edge.ServeDirect(ln)
	tr := &http.Transport{
		DialContext:         func(context.Context, string, string) (net.Conn, error) { return ln.Dial() },
		MaxIdleConnsPerHost: 64,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "lockd.embedded"
			r.SetXForwarded()
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "lockd: "+err.Error(), http.StatusBadGateway)
		},
	}
}
