package lockdtest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/bundle"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

// Option configures NewTestServer.
type Option func(*options)

type options struct {
	cfg        server.Config
	mutate     []func(*server.Config)
	backend    store.Store
	diskDir    string
	chaos      *ChaosConfig
	mtls       bool
	noClient   bool
	clientOpts []sdk.Option
	logLevel   zerolog.Level
	start      time.Duration
}

// WithConfig starts the node with cfg (Listen and the store fields are
// still the test server's own).
func WithConfig(cfg server.Config) Option { return func(o *options) { o.cfg = cfg } }

// WithConfigFunc changes the node's configuration before it starts.
func WithConfigFunc(fn func(*server.Config)) Option {
	return func(o *options) { o.mutate = append(o.mutate, fn) }
}

// WithBackend serves st; the node closes it when it stops.
func WithBackend(st store.Store) Option { return func(o *options) { o.backend = st } }

// WithDiskDir keeps the node's data in dir (pebble): a second test server
// on the same dir sees what the first stored.
func WithDiskDir(dir string) Option { return func(o *options) { o.diskDir = dir } }

// WithChaos puts a chaos proxy in front of the node: URL, Client and
// HTTPClient go through it. nil means none.
func WithChaos(cfg *ChaosConfig) Option { return func(o *options) { o.chaos = cfg } }

// WithMTLS serves mutual TLS with a fresh CA, server and client bundle
// (and encrypts the store); the clients carry the client certificate.
func WithMTLS() Option { return func(o *options) { o.mtls = true } }

// WithClientOptions adds options to the SDK clients the server makes.
func WithClientOptions(opts ...sdk.Option) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

// WithoutClient skips making TestServer.Client.
func WithoutClient() Option { return func(o *options) { o.noClient = true } }

// WithLogLevel routes the node's log lines at level and above to t.Log
// (default: warnings and errors).
func WithLogLevel(l zerolog.Level) Option { return func(o *options) { o.logLevel = l } }

// WithStartTimeout bounds the start (default 30s).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.start = d } }

// TestServer is a running node for one test.
type TestServer struct {
	// Server is the node (Abort it to simulate a crash).
	Server *server.Server
	// Client is an SDK client of URL (nil with WithoutClient); it is
	// closed when the test ends.
	Client *sdk.Client
	// Proxy is the chaos proxy, nil without WithChaos.
	Proxy *ChaosProxy

	t          testing.TB
	url        string
	direct     string
	tls        *tls.Config
	clientPEM  []byte
	clientOpts []sdk.Option
}

// NewTestServer starts a node on 127.0.0.1 for t, in memory unless
// WithBackend or WithDiskDir, and stops it when t ends. It fails t if the
// node does not start.
func NewTestServer(t testing.TB, opts ...Option) *TestServer {
	t.Helper()
	o := options{logLevel: zerolog.WarnLevel, start: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	ts := &TestServer{t: t, clientOpts: o.clientOpts}
	cfg := o.cfg
	cfg.Listen, cfg.ListenProto, cfg.Store = "127.0.0.1:0", "tcp", ""
	if cfg.SweeperInterval == 0 {
		cfg.SweeperInterval = -1
	}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(o.logLevel).With().Timestamp().Logger()
	for _, fn := range o.mutate {
		fn(&cfg)
	}
	srvOpts := []server.Option{server.WithBackend(ts.backend(o))}
	if o.mtls {
		serverPEM := ts.issue()
		srvOpts = append(srvOpts, server.WithBundlePEM(serverPEM))
	}
	srv, err := server.NewServer(cfg, srvOpts...)
	if err != nil {
		t.Fatalf("lockdtest: %v", err)
	}
	ts.Server = srv
	started := make(chan error, 1)
	go func() { started <- srv.Start() }()
	ctx, cancel := context.WithTimeout(context.Background(), o.start)
	defer cancel()
	if err := srv.WaitUntilReady(ctx); err != nil {
		t.Fatalf("lockdtest: start: %v", err)
	}
	t.Cleanup(func() { ts.stop(started) })
	scheme := "http://"
	if o.mtls {
		scheme = "https://"
	}
	ts.direct = scheme + srv.ListenerAddr().String()
	ts.url = ts.direct
	if o.chaos != nil {
		if ts.Proxy, err = NewChaosProxy(srv.ListenerAddr().String(), *o.chaos); err != nil {
			t.Fatalf("lockdtest: chaos proxy: %v", err)
		}
		ts.url = scheme + ts.Proxy.Addr().String()
	}
	if !o.noClient {
		ts.Client = ts.NewClient()
	}
	return ts
}

// backend returns the store the node serves (and closes).
func (ts *TestServer) backend(o options) store.Store {
	switch {
	case o.backend != nil:
		return o.backend
	case o.diskDir != "":
		st, err := disk.Open(o.diskDir, disk.Options{})
		if err != nil {
			ts.t.Fatalf("lockdtest: open %s: %v", o.diskDir, err)
		}
		return st
	}
	return mem.New()
}

// issue makes a CA, a server bundle (returned) and a client bundle.
func (ts *TestServer) issue() []byte {
	ca, err := bundle.CreateCABundle(bundle.CreateCABundleRequest{CommonName: "lockdtest-ca"})
	if err == nil {
		var srvPEM []byte
		if srvPEM, err = bundle.CreateServerBundle(bundle.CreateServerBundleRequest{CABundlePEM: ca, CommonName: "lockdtest"}); err == nil {
			if ts.clientPEM, err = bundle.CreateClientBundle(bundle.CreateClientBundleRequest{CABundlePEM: ca, CommonName: "lockdtest-client", ReadWriteAll: true}); err == nil {
				var cb *tlsutil.ClientBundle
				if cb, err = tlsutil.ParseClientBundle(ts.clientPEM); err == nil {
					ts.tls = cb.TLSConfig()
					return srvPEM
				}
			}
		}
	}
	ts.t.Fatalf("lockdtest: issue bundles: %v", err)
	return nil
}

func (ts *TestServer) stop(started <-chan error) {
	if ts.Client != nil {
		ts.Client.Close()
	}
	if ts.Proxy != nil {
		ts.Proxy.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.Server.Shutdown(ctx); err != nil {
		ts.t.Errorf("lockdtest: shutdown: %v", err)
	}
	select {
	case err := <-started:
		if err != nil {
			ts.t.Errorf("lockdtest: server: %v", err)
		}
	case <-ctx.Done():
		ts.t.Errorf("lockdtest: server did not stop")
	}
}

// URL is the base URL clients use (the chaos proxy's under WithChaos).
func (ts *TestServer) URL() string { return ts.url }

// DirectURL is the node's own base URL, bypassing any chaos proxy.
func (ts *TestServer) DirectURL() string { return ts.direct }

// Addr is the node's listening address.
func (ts *TestServer) Addr() net.Addr { return ts.Server.ListenerAddr() }

// ClientBundle is the PEM client bundle under WithMTLS (nil otherwise).
func (ts *TestServer) ClientBundle() []byte { return ts.clientPEM }

// NewClient returns an SDK client of URL with the server's TLS settings
// and opts; it is closed when the test ends.
func (ts *TestServer) NewClient(opts ...sdk.Option) *sdk.Client {
	return ts.NewEndpointsClient([]string{ts.url}, opts...)
}

// NewEndpointsClient returns an SDK client of several endpoints (for
// failover tests) with the server's TLS settings.
func (ts *TestServer) NewEndpointsClient(endpoints []string, opts ...sdk.Option) *sdk.Client {
	ts.t.Helper()
	all := []sdk.Option{}
	if ts.tls != nil {
		all = append(all, sdk.WithTLSConfig(ts.tls.Clone()))
	} else {
		all = append(all, sdk.WithDisableMTLS(true))
	}
	all = append(append(all, ts.clientOpts...), opts...)
	c, err := sdk.NewWithEndpoints(endpoints, all...)
	if err != nil {
		ts.t.Fatalf("lockdtest: client: %v", err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// NewHTTPClient returns a plain net/http client for URL (carrying the
// client certificate under WithMTLS).
func (ts *TestServer) NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ts.tls != nil {
		tr.TLSClientConfig = ts.tls.Clone()
	}
	ts.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Abort stops the node abruptly (see server.Server.Abort); the clients
// then see connection errors.
func (ts *TestServer) Abort(ctx context.Context) error { return ts.Server.Abort(ctx) }
