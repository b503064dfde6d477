package edge

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/edge/connguard"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/telemetry"
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

	// Admission is the QRF/LSF admission control (edge/admission); the
	// zero value is off. HostSource reads the host for the LSF (nil:
	// /proc).
	Admission  admission.Config
	HostSource admission.Source
	// ConnGuard is the listener's connection guard (edge/connguard); the
	// zero value is off.
	ConnGuard connguard.Config
	// Clock drives the admission controller and the connection guard
	// (nil: the wall clock); tests advance a fake one.
	Clock clock.Clock

	// ReadHeaderTimeout bounds the wait for a request's headers, from the
	// connection's first byte or the end of an idle wait (default 30s). It
	// does not bound the body: a streamed body may take as long as it
	// needs while bytes keep coming (BodyIdleTimeout).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long (default
	// 2m).
	IdleTimeout time.Duration
	// BodyIdleTimeout is the longest pause between reads of a streamed
	// request body (default 1m).
	BodyIdleTimeout time.Duration
	// RequestTimeout bounds an ordinary request's work, counted from its
	// start or from the last read of its body (default 60s); a blocking
	// call gets its wait plus WaitMargin (default 10s); streamed responses
	// run until written, abandoned or shut down.
	RequestTimeout time.Duration
	WaitMargin     time.Duration
	// Cluster, when set, routes each key and queue to its owner node and
	// forwards requests for the others (cluster.go, forward.go); nil
	// serves everything here (one node).
	Cluster *cluster.Cluster
	// Gate, when set, is asked before every request but /healthz and
	// /readyz (gate.go); nil serves always.
	Gate Gate
	// MuxThreshold: short forwards to a node go as frames over
	// multiplexed connections (mux.go) once this many are in flight to it;
	// 0 never.
	MuxThreshold int
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
	// TC is the coordinator's cluster state (/v1/tc/*, decide forwarding).
	TC *TC
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
	tc       *TC
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
	// subs holds the open subscription streams by id (string →
	// *subStream), for /v1/queue/unsubscribe.
	subs sync.Map
	// qrf and lsf are admission control (admit.go); guard filters
	// connections at the listener.
	qrf   *admission.Controller
	lsf   *admission.Observer
	guard *connguard.Guard

	clusterState
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
	cfg.setTimeoutDefaults()
	s := &Server{cfg: cfg, keys: svc.Keys, queues: svc.Queues, index: svc.Index, log: cfg.Logger.With().Str("sys", "api.http.server").Logger().Hook(telemetry.LogHook{})}
	s.txns = svc.Txns
	s.tc = svc.TC
	if cfg.Cluster != nil {
		s.cluster = cfg.Cluster
		var client *tls.Config
		if cfg.TLS != nil {
			client = cfg.TLS.Client
		}
		s.peers = newPeers(client, cfg.Cluster.Self().ID)
		s.muxes.idle = make(chan muxJob)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.streams, s.endStreams = context.WithCancel(s.base)
	s.routes = s.buildRoutes()
	s.qrf = admission.New(cfg.Admission, cfg.Clock, cfg.Logger)
	s.lsf = admission.NewObserver(cfg.HostSource, s.qrf, cfg.Logger)
	s.lsf.Start()
	s.guard = connguard.New(cfg.ConnGuard, cfg.Clock, cfg.Logger)
	s.http = &fasthttp.Server{
		Handler:                      s.serve,
		Name:                         "lockd",
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           4 << 20,
		ReadTimeout:                  cfg.ReadHeaderTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		Logger:                       fasthttpLogger{s.log},
	}
	return s
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	ln = s.guard.Listener(ln, s.cfg.TLS == nil)
	if s.cfg.TLS != nil {
		ln = newTLSListener(ln, s.cfg.TLS, s.log, s.guard)
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
	s.lsf.Stop()
	s.endStreams()
	err := s.http.ShutdownWithContext(ctx)
	s.muxes.shutdown(ctx.Done())
	s.cancel()
	if s.peers != nil {
		s.peers.close()
	}
	return err
}

type fasthttpLogger struct{ l zerolog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug().Msgf(format, args...) }

func (cfg *Config) setTimeoutDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, 30*time.Second)
	def(&cfg.IdleTimeout, 2*time.Minute)
	def(&cfg.BodyIdleTimeout, time.Minute)
	def(&cfg.RequestTimeout, 60*time.Second)
	def(&cfg.WaitMargin, 10*time.Second)
}
