package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/cluster/ha"
	"github.com/lockdhq/lockd/cluster/tc"
	"github.com/lockdhq/lockd/edge"
	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/edge/connguard"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/instrument"
	"github.com/lockdhq/lockd/txn"
)

// Config is a node's configuration. Zero values take the documented
// defaults.
type Config struct {
	Listen      string // default ":9341"
	ListenProto string // "tcp" (default), "tcp4", "tcp6" or "unix"
	Store       string // store URL (default DefaultStore)
	// StoreOptions are the object-store settings given as flags.
	StoreOptions StoreOptions

	DefaultNamespace string        // default "default"
	JSONMax          int64         // default 100 MiB
	DefaultTTL       time.Duration // default 30s
	MaxTTL           time.Duration // default 30m
	AcquireBlock     time.Duration // default 60s
	SpoolMemory      int           // default 4 MiB
	AttachmentMax    int64         // default 1 TiB
	// ActorIdle is how long an idle key stays in memory (default 30s).
	ActorIdle time.Duration
	// SweeperInterval is how often orphaned blobs are collected (default
	// 5m; negative disables); SweepGrace is the age below which a blob is
	// never collected (default 1h).
	SweeperInterval time.Duration
	SweepGrace      time.Duration
	// IndexOff disables the secondary query index (queries scan).
	IndexOff bool
	// TCDecisionRetention is how long applied transaction decisions are
	// kept (default 24h).
	TCDecisionRetention time.Duration
	// TCFanout tunes the coordinator's calls to other nodes' resource
	// managers (--tc-fanout-*); TCLeaseTTL is the TC leader and membership
	// lease (default 10s); TCReplayInterval how often the leader replays
	// unapplied decisions (default 5s).
	TCFanout         txn.Fanout
	TCLeaseTTL       time.Duration
	TCReplayInterval time.Duration

	Logger zerolog.Logger

	// Security is mTLS and storage encryption (security.go); the zero
	// value serves plain HTTP over a plaintext store.
	Security Security

	// HA is the mode of nodes sharing one store (ha.go).
	HA HA

	// Backend, when set, is used instead of opening Store (tests).
	Backend store.Store

	// Admission is QRF/LSF admission control and ConnGuard the listener's
	// connection guard (edge/admission, edge/connguard); their zero values
	// are off (the lockd binary turns both on with lockd v0.9's defaults).
	// HostSource reads host pressure for the LSF (nil: /proc).
	Admission  admission.Config
	ConnGuard  connguard.Config
	HostSource admission.Source
	// Clock drives lease expiry and blocking waits (keyspace), admission
	// control and the connection guard (nil: the wall clock); tests
	// advance a fake one instead of sleeping.
	Clock clock.Clock
	// HTTP timeouts (see edge.Config); zero takes the defaults.
	ReadHeaderTimeout, IdleTimeout, BodyIdleTimeout, RequestTimeout time.Duration
	// Cluster, when set, makes this node one of several sharing the store
	// (cluster.go); Start honours it.
	Cluster *ClusterConfig
	// cluster is the membership Start created for StartOn.
	cluster *cluster.Cluster
	// listener, when set, is served instead of listening on Listen
	// (NewServer's WithListener).
	listener net.Listener
}

// listen returns the listener Start serves.
func (cfg *Config) listen() (net.Listener, error) {
	if cfg.listener != nil {
		return cfg.listener, nil
	}
	return net.Listen(cfg.ListenProto, cfg.Listen)
}

// Server is a running node.
type Server struct {
	cfg   Config
	st    store.Store
	keys  *keyspace.Service
	edge  *edge.Server
	ln    net.Listener
	done  chan error
	close sync.Once
	stop  chan struct{}
	// bgCtx is cancelled when Close begins; the background loops (sweeper,
	// TC election and announce, replay, ownership) run their store calls
	// under it and Close waits for them in bg before it closes the store.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	// served is closed when Serve returned; closeErr is what the first
	// Close returned (embed.go's Start reports it).
	served   chan struct{}
	closeErr error
	// closeStep names the step Close is in (CloseStep).
	closeStep atomic.Value
	// abort makes Close stop without leaving the cluster (Abort).
	abort bool
	// embed is the state of a Server made by NewServer (embed.go);
	// httpHandler is Handler's, made once.
	embed       *embedding
	handlerOnce sync.Once
	httpHandler http.Handler

	queues *queues.Service
	txns   *txn.Service
	tc     *edge.TC
	index  *index.Service
	// raw is the store under any decorator (recover).
	raw     store.Store
	cluster *cluster.Cluster

	// ha runs the HA mode (nil when none runs); a passive node's services
	// are built but idle until activate, which built orders after their
	// construction. life guards active and closing.
	ha      *ha.Controller
	built   chan struct{}
	life    sync.Mutex
	active  bool
	closing bool
}

// Start opens the store, starts the services and serves on the listener.
func Start(cfg Config) (*Server, error) {
	s := &Server{}
	if err := s.start(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// start is Start into s (NewServer's Start fills a Server it handed out).
func (s *Server) start(cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = ":9341"
	}
	if cfg.ListenProto == "" {
		cfg.ListenProto = "tcp"
	}
	if err := cfg.Security.Validate(); err != nil {
		return err
	}
	if _, err := cfg.HA.config(); err != nil {
		return err
	}
	if err := cfg.checkClusterStore(); err != nil {
		return err
	}
	st := cfg.Backend
	if st == nil {
		if cfg.StoreOptions.OnFatal == nil {
			cfg.StoreOptions.OnFatal = fatalStore(cfg.Logger)
		}
		var err error
		if st, err = OpenStore(cfg.Store, cfg.StoreOptions); err != nil {
			return err
		}
	}
	if err := cfg.Security.checkStoreOnStart(st); err != nil {
		if cfg.Backend == nil {
			st.Close()
		}
		return err
	}
	ln, err := cfg.listen()
	if err != nil {
		if cfg.Backend == nil {
			st.Close()
		}
		return fmt.Errorf("listen %s %s: %w", cfg.ListenProto, cfg.Listen, err)
	}
	if cfg.Cluster != nil {
		if cfg.cluster, err = startCluster(cfg, ln); err != nil {
			ln.Close()
			if cfg.Backend == nil {
				st.Close()
			}
			return err
		}
	}
	if err = s.startWith(ln, st, cfg); err != nil {
		if cfg.cluster != nil {
			cfg.cluster.Close(time.Second)
		}
		ln.Close()
		if cfg.Backend == nil {
			st.Close()
		}
		return err
	}
	return nil
}

// StartOn serves on an existing listener over an open store; Close closes
// both. It panics when the HA mode refuses to start (a second single-mode
// node); StartWith returns that error instead.
func StartOn(ln net.Listener, st store.Store, cfg Config) *Server {
	s, err := StartWith(ln, st, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// StartWith serves on an existing listener over an open store; Close
// closes both. Under the failover or auto HA mode the node may start
// passive: it answers 503 node_passive until it takes the lease, then
// loads its state and serves. A single-mode node that finds another node
// on the store returns ha.ErrFenced (and closes neither ln nor st).
func StartWith(ln net.Listener, st store.Store, cfg Config) (*Server, error) {
	s := &Server{}
	if err := s.startWith(ln, st, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// startWith is StartWith into s.
func (s *Server) startWith(ln net.Listener, st store.Store, cfg Config) error {
	raw := st
	st = instrument.Wrap(cfg.Security.WrapStore(st))
	s.cfg, s.st, s.raw, s.ln, s.cluster = cfg, st, raw, ln, cfg.cluster
	s.done, s.served, s.built = make(chan error, 1), make(chan struct{}), make(chan struct{})
	activeNow, err := s.startHA(st)
	if err != nil {
		return err
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	hash, err := tc.BackendHash(hctx, st)
	hcancel()
	if err != nil {
		s.closeHA()
		return fmt.Errorf("server: naming the store for the TC: %w", err)
	}
	s.build(hash)
	close(s.built)
	if activeNow {
		s.activate()
	}
	go func() {
		s.done <- s.edge.Serve(ln)
		close(s.served)
	}()
	return nil
}

// build constructs the services and the edge; it does no I/O, so a
// passive node can hold them idle behind the gate.
func (s *Server) build(hash string) {
	cfg := s.cfg
	st := s.st
	s.tc = s.newTC(hash)
	system := actors.NewSystem()
	s.keys = keyspace.New(system, st, keyspace.Config{
		DefaultTTL: cfg.DefaultTTL, MaxTTL: cfg.MaxTTL, AttachmentMax: cfg.AttachmentMax,
		Actors: actors.Config{IdleAfter: cfg.ActorIdle}, Clock: cfg.Clock,
	})
	s.index = newIndex(st, s.keys, cfg, s.sharedIndex()) // before recovery: it observes every commit
	s.queues = newQueues(st, s.keys, cfg)
	// Every resource manager exists before the coordinator, which gets
	// them at construction: recovery may replay decisions naming messages.
	s.txns = txn.New(system, st, s.keys, txn.Config{Retention: cfg.TCDecisionRetention,
		NodeID: s.tc.Elector.ID(), Endpoint: s.tc.Elector.Endpoint(), Logger: cfg.Logger, Messages: messageRM{s.queues},
		Fanout: cfg.TCFanout, ReplayInterval: cfg.TCReplayInterval, BackendHash: hash, Leadership: leadership{e: s.tc.Elector, cl: s.cluster}})
	ecfg := edge.Config{
		DefaultNamespace: cfg.DefaultNamespace, JSONMax: cfg.JSONMax,
		AcquireBlock: cfg.AcquireBlock, SpoolMemory: cfg.SpoolMemory, Logger: cfg.Logger,
		TLS: s.cfg.Security.edgeTLS(), Cluster: s.routing(),
		Admission: cfg.Admission, HostSource: cfg.HostSource, ConnGuard: cfg.ConnGuard, Clock: cfg.Clock,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, IdleTimeout: cfg.IdleTimeout,
		BodyIdleTimeout: cfg.BodyIdleTimeout, RequestTimeout: cfg.RequestTimeout,
	}
	if s.ha != nil {
		ecfg.Gate = s.ha
	}
	if cfg.Cluster != nil {
		switch ecfg.MuxThreshold = cfg.Cluster.MuxThreshold; {
		case ecfg.MuxThreshold == 0:
			ecfg.MuxThreshold = DefaultMuxThreshold
		case ecfg.MuxThreshold < 0:
			ecfg.MuxThreshold = 0
		}
	}
	s.edge = edge.New(edge.Services{Keys: s.keys, Queues: s.queues, Txns: s.txns, Index: s.index, TC: s.tc}, ecfg)
	s.txns.SetRemote(s.edge.TxnRemote())
	s.stop = make(chan struct{})
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
}

// goBG runs f as a background loop that Close waits for before it closes
// the store: a loop still reading the store after it closed would crash
// the process (pebble panics on a closed DB).
func (s *Server) goBG(f func()) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
}

// activate loads what the node needs from the store (index, transaction
// recovery), starts the sweeper and opens the HA gate. A passive node
// calls it when it takes the lease; its services have served nothing yet,
// so everything they will know comes from the store.
func (s *Server) activate() {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closing || s.active {
		return
	}
	cfg := s.cfg
	startIndex(s.index, cfg)
	s.startTC()
	s.recover(s.raw)
	interval, grace := cfg.SweeperInterval, cfg.SweepGrace
	if interval == 0 {
		interval = 5 * time.Minute
	}
	if grace <= 0 {
		grace = time.Hour
	}
	s.goBG(func() { s.sweep(interval, grace, s.stop) })
	if s.routing() != nil {
		s.goBG(func() { s.followOwnership(s.stop) })
	} else if s.cluster != nil {
		cfg.Logger.Warn().Str("sys", "cluster").Str("ha", cfg.HA.Mode).Str("store", cfg.Store).
			Msg("clustered, but keys are not routed between nodes: that needs --ha concurrent; the membership serves the cluster listing and the TC only")
	}
	s.active = true
	if s.ha != nil {
		s.ha.Ready()
		cfg.Logger.Info().Str("sys", "cluster.ha").Msg("state loaded from the store: serving as the active node")
	}
}

// recover rebuilds the transaction origins and replays the coordinator's
// records, last, once every service a decision may touch is running. raw
// is the store under any decorator.
func (s *Server) recover(raw store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rebuilt, err := s.keys.RebuildOrigins(ctx)
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("sys", "txn.tc").Msg("rebuilding transaction origins failed")
	}
	s.originsRebuilt(rebuilt, raw)
	if err := s.txns.Recover(ctx); err != nil {
		s.cfg.Logger.Error().Err(err).Str("sys", "txn.tc").Msg("transaction recovery failed; will retry in the sweeper")
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of a TCP listener ("http://127.0.0.1:PORT", or
// https under mTLS).
func (s *Server) URL() string { return s.cfg.Security.scheme() + "://" + s.ln.Addr().String() }

// RequestHandler is the server's fasthttp handler, to drive it without a
// network (benchmarks of the request path). Handler (embed.go) is the
// net/http one.
func (s *Server) RequestHandler() fasthttp.RequestHandler { return s.edge.Handler() }

// Keys exposes the key service (tests, metrics).
func (s *Server) Keys() *keyspace.Service { return s.keys }

// QRFStatus returns the admission controller's posture, reason and last
// LSF sample.
func (s *Server) QRFStatus() admission.Status { return s.edge.QRFStatus() }

// ForceQRFObserve feeds the admission controller a sample as if the LSF
// had taken it (tests; lockd v0.9 has the same hook).
func (s *Server) ForceQRFObserve(snap admission.Snapshot) { s.edge.ForceQRFObserve(snap) }

// Drain begins drain-aware shutdown: new acquires are refused and
// responses carry Shutdown-Imminent.
func (s *Server) Drain() { s.edge.Drain() }

// Close stops serving, waiting up to ctx for in-flight requests, then stops
// the actors and closes the store.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.close.Do(func() {
		s.life.Lock()
		s.closing = true
		active := s.active
		s.life.Unlock()
		// Each step that waits on others (peers, the store, requests in
		// flight) is timed: one that is slow is named in the log, so that
		// a shutdown that overruns its budget says why.
		step := func(name string, f func()) {
			s.closeStep.Store(name)
			start := time.Now()
			f()
			if d := time.Since(start); d >= slowCloseStep {
				s.cfg.Logger.Warn().Str("sys", "server.shutdown.controller").Str("step", name).Dur("took", d).Msg("slow shutdown step")
			}
		}
		if active {
			step("transaction coordinator", s.stopTC)
		}
		close(s.stop)
		s.bgCancel()
		if s.cluster != nil && s.abort {
			err = s.cluster.Abort()
		} else if s.cluster != nil {
			// Leave first: the others take over this node's keys and stop
			// forwarding here while it finishes what is in flight.
			step("cluster leave", func() { err = s.cluster.Close(2 * time.Second) })
		}
		var shut error
		step("requests in flight", func() { shut = s.edge.Shutdown(ctx) })
		if s.abort && errors.Is(shut, context.Canceled) {
			shut = nil // Abort cuts the requests in flight on purpose
		}
		err = errors.Join(err, shut)
		// Shutdown closes the listeners Serve has registered; a Serve
		// goroutine that had not started yet would register ln afterwards
		// and serve forever, so close ln here too.
		s.ln.Close()
		if serr := <-s.done; serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		step("background loops", s.bg.Wait)
		step("queue actors", s.queues.Close)
		step("transaction actors", s.txns.Close)
		step("key actors", s.keys.Close)
		if active {
			step("index", func() { err = errors.Join(err, s.closeIndex()) })
		}
		step("store", func() { err = errors.Join(err, s.closeHA(), s.st.Close()) })
		s.closeErr = err
	})
	return err
}

// CloseStep names the step of the teardown Close is in ("" before Close):
// a shutdown that outlives its budget reports where it stood.
func (s *Server) CloseStep() string {
	name, _ := s.closeStep.Load().(string)
	return name
}

// slowCloseStep is how long a shutdown step may take before the log names
// it.
const slowCloseStep = 500 * time.Millisecond

// ExitStoreFatal is the exit status of a server that stopped because its
// store could not make a write durable (a full or failing disk).
const ExitStoreFatal = 75

// fatalStore stops the process when the store fails to sync: the write is
// visible in memory but not on disk, so serving on would show state that a
// restart would lose. A supervisor restarts lockd from what is durable.
func fatalStore(log zerolog.Logger) func(error) {
	return func(err error) {
		log.Error().Err(err).Str("sys", "storage.backend.core").
			Msg("a write could not be made durable (disk full or failing?); stopping so that a restart recovers from what is on disk")
		os.Exit(ExitStoreFatal)
	}
}
