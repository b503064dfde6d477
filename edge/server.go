package edge

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/txn"
)

// Config configures the HTTP edge.
type Config struct {
	// DefaultNamespace is used when a request names none (default "default").
	DefaultNamespace string
	// JSONMax bounds JSON state bodies in bytes (default 100 MiB).
	JSONMax int64
	// AcquireBlock is the longest a blocking acquire with block_seconds=0
	// waits (default 60s).
	AcquireBlock time.Duration
	// SpoolMemory is how much of a large body is buffered in memory before
	// spilling to a temporary file (default 4 MiB).
	SpoolMemory int
	// Logger receives request errors (default: discard).
	Logger zerolog.Logger
	// TLS, when set, serves mutual TLS and authorizes every request by the
	// client certificate (tls.go, authz.go); nil serves plain HTTP.
	TLS *TLS
	// Gate, when set, is asked before every request but /healthz and
	// /readyz (gate.go); nil serves always.
	Gate Gate
}

// Services are the domain services the edge translates HTTP into.
type Services struct {
	Keys *keyspace.Service
	// Queues serves /v1/queue/*; nil answers 501 queue_disabled.
	Queues *queues.Service
	// Txns coordinates transactions; acquire and release go through it.
	Txns *txn.Service
	// Index serves /v1/query, /v1/index/flush and /v1/namespace; nil
	// answers 501.
	Index *index.Service
}

// Correlation ids amortize crypto/rand reads through uuid's pool; it is a
// process-wide switch, set once before any id is made.
func init() { uuid.EnableRandPool() }

// Server is the HTTP edge. Create it with New and run it with Serve.
type Server struct {
	cfg      Config
	keys     *keyspace.Service
	queues   *queues.Service
	txns     *txn.Service
	index    *index.Service
	http     *fasthttp.Server
	log      zerolog.Logger
	draining atomic.Bool
	routes   map[string]route
	// base bounds every request's domain calls; Shutdown cancels it. It is
	// never fasthttp's RequestCtx: that is reset and reused when the
	// handler returns, while a store client may still hold the context.
	base   context.Context
	cancel context.CancelFunc
	// streams bounds the open-ended responses (subscribe, watch); Shutdown
	// ends it first, so that they do not hold the shutdown for its whole
	// timeout while ordinary requests finish.
	streams    context.Context
	endStreams context.CancelFunc
}

// New builds the edge over the domain services.
func New(svc Services, cfg Config) *Server {
	if cfg.DefaultNamespace == "" {
		cfg.DefaultNamespace = "default"
	}
	if cfg.JSONMax <= 0 {
		cfg.JSONMax = 100 << 20
	}
	if cfg.AcquireBlock <= 0 {
		cfg.AcquireBlock = 60 * time.Second
	}
	if cfg.SpoolMemory <= 0 {
		cfg.SpoolMemory = 4 << 20
	}
	s := &Server{cfg: cfg, keys: svc.Keys, queues: svc.Queues, index: svc.Index, log: cfg.Logger.With().Str("sys", "api.http.server").Logger()}
	s.txns = svc.Txns
	s.base, s.cancel = context.WithCancel(context.Background())
	s.streams, s.endStreams = context.WithCancel(s.base)
	s.routes = s.buildRoutes()
	s.http = &fasthttp.Server{
		Handler:                      s.serve,
		Name:                         "lockd",
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           4 << 20,
		ReadTimeout:                  0,
		IdleTimeout:                  2 * time.Minute,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		Logger:                       fasthttpLogger{s.log},
	}
	return s
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = newTLSListener(ln, s.cfg.TLS, s.log)
	}
	return s.http.Serve(ln)
}

// Handler returns the request handler, for in-memory listeners in tests.
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// Drain starts the drain phase: responses carry Shutdown-Imminent and new
// acquires are refused, while holders may keep alive and release.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.keys.Drain()
}

// Shutdown ends subscription and watch streams, stops accepting
// connections and waits for other handlers until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.endStreams()
	err := s.http.ShutdownWithContext(ctx)
	s.cancel()
	return err
}

type fasthttpLogger struct{ l zerolog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug().Msgf(format, args...) }
