package sdk

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of the client's options.
const (
	// DefaultHTTPTimeout bounds one HTTP attempt until its response
	// headers (and, for JSON answers, its body) arrive. Waits the server
	// is asked to make (blocking acquire, long-poll dequeue) are added.
	DefaultHTTPTimeout = 15 * time.Second
	// DefaultCloseTimeout bounds the release that LeaseSession.Close sends.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultKeepAliveTimeout bounds each background keepalive request.
	DefaultKeepAliveTimeout = 5 * time.Second
	// DefaultFailureRetries is how many times a failed call is retried
	// (transport errors, 429, 503) before its error is returned.
	DefaultFailureRetries = 5
	// DefaultBackoffBase and DefaultBackoffMax shape the exponential
	// backoff between retries (full jitter, doubled per attempt).
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffMax  = 5 * time.Second
	// DefaultAcquireWaitSlice is the longest single wait a blocking
	// acquire asks the server for; BlockWaitForever repeats such waits
	// until the context ends.
	DefaultAcquireWaitSlice = 30 * time.Second
)

// Block modes of api.AcquireRequest.BlockSeconds (any value > 0 waits that
// many seconds).
const (
	// BlockWaitForever waits for the lease until the context ends.
	BlockWaitForever int64 = 0
	// BlockNoWait fails at once with ErrWaiting when the key is held.
	BlockNoWait int64 = -1
)

// Option configures a Client.
type Option func(*config)

type config struct {
	httpTimeout      time.Duration
	closeTimeout     time.Duration
	keepAliveTimeout time.Duration
	namespace        string
	logger           *slog.Logger
	tls              *tls.Config
	bundlePath       string
	disableMTLS      bool
	httpClient       *http.Client
	drainAware       bool
	retries          int
	backoffBase      time.Duration
	backoffMax       time.Duration
	acquireRetries   int
	acquireSlice     time.Duration
	userAgent        string
}

func defaultConfig() config {
	return config{
		httpTimeout:      DefaultHTTPTimeout,
		closeTimeout:     DefaultCloseTimeout,
		keepAliveTimeout: DefaultKeepAliveTimeout,
		drainAware:       true,
		retries:          DefaultFailureRetries,
		backoffBase:      DefaultBackoffBase,
		backoffMax:       DefaultBackoffMax,
		acquireRetries:   DefaultFailureRetries,
		acquireSlice:     DefaultAcquireWaitSlice,
		userAgent:        "lockd-go-sdk",
		logger:           slog.New(slog.DiscardHandler),
	}
}

// WithHTTPTimeout bounds each HTTP attempt (default DefaultHTTPTimeout).
// Server-side waits the request asks for are added to it.
func WithHTTPTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.httpTimeout = d
		}
	}
}

// WithCloseTimeout bounds the release sent by LeaseSession.Close and the
// releases of Client.Close (default DefaultCloseTimeout).
func WithCloseTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.closeTimeout = d
		}
	}
}

// WithKeepAliveTimeout bounds each background keepalive request (default
// DefaultKeepAliveTimeout).
func WithKeepAliveTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.keepAliveTimeout = d
		}
	}
}

// WithDefaultNamespace is the namespace of calls that name none; empty
// leaves the choice to the server (its --default-namespace).
func WithDefaultNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithLogger receives the client's debug logs (retries, keepalives,
// drain releases). The default discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithTLSConfig sets the TLS configuration of https endpoints (client
// certificates for mTLS, root CAs). It takes precedence over WithBundle.
// Without either, an https endpoint uses the client bundle in
// $HOME/.lockd: the only client*.pem file, or client.pem when there are
// several. Several without client.pem (or a folder that cannot be read)
// makes New fail; no bundle at all means the system roots and no client
// certificate.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) { c.tls = cfg }
}

// WithBundle loads a client bundle: one PEM file with the CA
// certificate(s), the client certificate and its private key, as issued
// by "lockd auth new client". The server certificate is verified against
// the bundle's CA without checking the host name (lockd's certificates
// name nodes, not addresses).
func WithBundle(path string) Option {
	return func(c *config) { c.bundlePath = path }
}

// WithDisableMTLS makes endpoints without a scheme plain http:// (the
// default for them is https://) and ignores WithBundle.
func WithDisableMTLS(disable bool) Option {
	return func(c *config) { c.disableMTLS = disable }
}

// WithHTTPClient sends requests through hc instead of the client's own
// tuned transport (unix:// endpoints still dial their socket). Its Timeout
// should be zero: the client bounds each attempt itself.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// WithDrainAwareShutdown controls whether leases are released as soon as a
// draining server (Shutdown-Imminent) is seen and no request of theirs is
// in flight (default true).
func WithDrainAwareShutdown(enabled bool) Option {
	return func(c *config) { c.drainAware = enabled }
}

// WithRetries sets how many times a failed call is retried (transport
// errors, 429, 503); 0 disables retries. The budget is shared by all
// endpoints of the client.
func WithRetries(n int) Option {
	return func(c *config) { c.retries = max(n, 0) }
}

// WithBackoff shapes the exponential backoff between retries: the first
// pause is up to base, doubling per attempt up to maxDelay. A server's
// Retry-After is honoured when it is longer.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *config) {
		if base > 0 {
			c.backoffBase = base
		}
		if maxDelay >= base && maxDelay > 0 {
			c.backoffMax = maxDelay
		}
	}
}

// WithAcquireFailureRetries bounds how often AcquireForUpdate repeats its
// initial acquire-and-read handshake after a failure (default
// DefaultFailureRetries; 0 disables).
func WithAcquireFailureRetries(n int) Option {
	return func(c *config) { c.acquireRetries = max(n, 0) }
}

// WithAcquireWaitSlice is the longest single wait a blocking acquire asks
// the server for (default DefaultAcquireWaitSlice).
func WithAcquireWaitSlice(d time.Duration) Option {
	return func(c *config) {
		if d >= time.Second {
			c.acquireSlice = d
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *config) { c.userAgent = ua }
}

// Ptr returns a pointer to v, for optional fields such as
// api.MetadataMutation.QueryHidden.
func Ptr[T any](v T) *T { return &v }
