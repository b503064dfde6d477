package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/disk"
)

type serveFlags struct {
	cfg             server.Config
	metricsListen   string
	pprofListen     string
	otlpEndpoint    string
	profiling       bool
	logLevel        string
	logFormat       string
	drainGrace      time.Duration
	shutdownTimeout time.Duration
	jsonMax         *int64
	spoolMem        *int64
	attachmentMax   *int64
	s3PartSize      *int64
	sec             *securityFlags
	adm             *admissionFlags
	cluster         *clusterFlags
}

func serveFlagSet() (*pflag.FlagSet, *serveFlags) {
	f := &serveFlags{}
	fs := pflag.NewFlagSet("lockd", pflag.ContinueOnError)
	fs.StringVar(&f.cfg.Listen, "listen", ":9341", "address to listen on")
	fs.StringVar(&f.cfg.ListenProto, "listen-proto", "tcp", "listener network: tcp, tcp4, tcp6 or unix")
	fs.StringVar(&f.cfg.Store, "store", server.DefaultStore, "storage URL: disk:///path, mem://, s3://host:port/bucket/prefix, aws://bucket/prefix, azure://account/container/prefix")
	so := &f.cfg.StoreOptions
	fs.StringVar(&so.S3SSE, "s3-sse", "", "server-side encryption of S3 objects: AES256 or aws:kms")
	fs.StringVar(&so.S3KMSKeyID, "s3-kms-key-id", "", "KMS key for s3:// stores (with --s3-sse aws:kms)")
	fs.StringVar(&so.AWSRegion, "aws-region", "", "AWS region for aws:// stores (else AWS_REGION)")
	fs.StringVar(&so.AWSKMSKeyID, "aws-kms-key-id", "", "KMS key for aws:// stores (enables SSE-KMS)")
	f.s3PartSize = newSize(fs, "s3-max-part-size", 0, "multipart upload part size for S3 (default 16MB)")
	fs.StringVar(&so.AzureKey, "azure-key", "", "Azure shared key (or LOCKD_AZURE_ACCOUNT_KEY)")
	fs.StringVar(&so.AzureSASToken, "azure-sas-token", "", "Azure SAS token (or LOCKD_AZURE_SAS_TOKEN)")
	fs.StringVar(&so.AzureEndpoint, "azure-endpoint", "", "Azure blob service URL (default https://<account>.blob.core.windows.net)")
	fs.IntVar(&so.RetryMaxAttempts, "storage-retry-max-attempts", 6, "tries of a storage request on throttling, 5xx or transport errors")
	fs.DurationVar(&so.RetryBaseDelay, "storage-retry-base-delay", 100*time.Millisecond, "first backoff between storage retries")
	fs.DurationVar(&so.RetryMaxDelay, "storage-retry-max-delay", 5*time.Second, "longest backoff between storage retries")
	fs.StringVarP(&f.cfg.DefaultNamespace, "default-namespace", "n", "default", "namespace for requests that name none")
	f.jsonMax = newSize(fs, "json-max", 100<<20, "largest JSON state accepted (e.g. 100MB)")
	f.attachmentMax = newSize(fs, "attachment-max", 1<<40, "largest attachment accepted (413 attachment_too_large beyond)")
	f.spoolMem = newSize(fs, "payload-spool-mem", 4<<20, "bytes of a large body kept in memory before spilling to a temp file")
	fs.DurationVar(&f.cfg.DefaultTTL, "default-ttl", 30*time.Second, "lease TTL when a request gives none")
	fs.DurationVar(&f.cfg.MaxTTL, "max-ttl", 30*time.Minute, "longest lease TTL granted (longer requests are clamped)")
	fs.DurationVar(&f.cfg.AcquireBlock, "acquire-block", 60*time.Second, "longest wait of a blocking acquire with block_seconds=0")
	fs.DurationVar(&f.cfg.SweeperInterval, "sweeper-interval", 5*time.Minute, "how often orphaned blobs (crashed uploads, expired staging) are collected")
	fs.DurationVar(&f.cfg.SweepGrace, "sweeper-grace", time.Hour, "age below which an unreferenced blob is never collected, as an upload may be on its way (0 = 1h)")
	fs.DurationVar(&f.cfg.TCDecisionRetention, "tc-decision-retention", 24*time.Hour, "how long applied transaction decisions are kept")
	fs.DurationVar(&f.cfg.TCFanout.Timeout, "tc-fanout-timeout", 5*time.Second, "bound of each call of the TC to another node's resource manager")
	fs.IntVar(&f.cfg.TCFanout.Attempts, "tc-fanout-attempts", 4, "attempts of each TC fan-out call before the replay loop takes over")
	fs.DurationVar(&f.cfg.TCFanout.BaseDelay, "tc-fanout-base-delay", 100*time.Millisecond, "first backoff between TC fan-out attempts")
	fs.DurationVar(&f.cfg.TCFanout.MaxDelay, "tc-fanout-max-delay", 2*time.Second, "largest backoff between TC fan-out attempts")
	fs.Float64Var(&f.cfg.TCFanout.Multiplier, "tc-fanout-multiplier", 2, "growth of the backoff between TC fan-out attempts")
	fs.DurationVar(&f.cfg.ActorIdle, "actor-idle-timeout", 30*time.Second, "idle time after which a key's actor leaves memory")
	fs.BoolVar(&f.cfg.IndexOff, "disable-index", false, "maintain no secondary query index (every query scans)")
	fs.StringVar(&f.cfg.HA.Mode, "ha", "failover", "HA mode of nodes sharing one object store: failover (one active node; the others answer 503 node_passive and take over when it dies), concurrent, single or auto (docs/HA.md)")
	fs.DurationVar(&f.cfg.HA.LeaseTTL, "ha-lease-ttl", 10*time.Second, "failover lease TTL: a passive node takes over within it after the active node dies (at least 5s)")
	fs.DurationVar(&f.cfg.HA.SinglePresenceTTL, "ha-single-presence-ttl", 5*time.Minute, "how long the presence record of a --ha single node fences other nodes after its last refresh")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "address for the Prometheus /metrics endpoint (empty disables)")
	fs.StringVar(&f.pprofListen, "pprof-listen", "", "address for /debug/pprof (empty disables)")
	fs.BoolVar(&f.profiling, "enable-profiling-metrics", false, "also export Go runtime and process metrics (go_*, process_*) on --metrics-listen")
	fs.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "export OpenTelemetry traces over OTLP: host[:port] (gRPC, default port 4317), grpc://, grpcs://, http:// or https:// (default port 4318); empty disables")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or console")
	fs.DurationVar(&f.drainGrace, "drain-grace", 10*time.Second, "how long holders may finish after a shutdown signal (0 skips draining)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "total shutdown budget, split 80/20 between drain and HTTP teardown")
	f.sec = addSecurityFlags(fs)
	f.adm = addAdmissionFlags(fs)
	f.cluster = addClusterFlags(fs)
	return fs, f
}

func serve(args []string) error {
	s, err := loadSettings(args, os.Stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	f := s.f
	log, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	s.report(log.With().Str("sys", "server.lifecycle.config").Logger())
	if f.cfg.Security, err = f.sec.security(log, true); err != nil {
		return err
	}
	f.cfg.JSONMax, f.cfg.SpoolMemory, f.cfg.Logger = *f.jsonMax, int(*f.spoolMem), log
	f.cfg.AttachmentMax = *f.attachmentMax
	f.cfg.StoreOptions.S3MaxPartSize = *f.s3PartSize
	f.adm.apply(&f.cfg)
	f.cfg.Cluster = f.cluster.config()
	if f.cfg.Cluster != nil {
		// Cluster members each own a share of the keys, which is the
		// concurrent HA mode; the failover default would leave all but one
		// of them passive. An explicit other mode keeps the membership
		// (server.Server.routing says what it then serves).
		if !s.fs.Changed("ha") {
			f.cfg.HA.Mode = "concurrent"
		}
	}
	// Signals are taken before the server starts, so a supervisor's
	// SIGTERM (or an operator's SIGHUP) that arrives right after "lockd
	// serving" is handled, not the default action that kills the process
	// with its buffered traces unexported. One that arrives while the
	// server is still starting ends the process at once (startServer).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tel, err := startTracing(f, log)
	if err != nil {
		return err
	}
	defer stopTracing(tel, log)
	srv, err := startServer(f.cfg, sig, log)
	if err != nil {
		return err
	}
	metrics.NewGauge(`lockd_key_actors_live`, func() float64 { return float64(srv.Keys().Live()) })
	metrics.RegisterMetricsWriter(writeDiskMetrics)
	startSideListeners(f, log)
	lc := log.With().Str("sys", "server.lifecycle.core").Logger()
	ev := lc.Info().Str("listen", srv.Addr().String()).Str("store", f.cfg.Store).Bool("mtls", f.cfg.Security.MTLS()).Str("ha_role", srv.HARole())
	if cl := srv.Cluster(); cl != nil {
		ev = ev.Str("node_id", cl.Self().ID).Str("self", cl.Self().Endpoint).Str("gossip", cl.Self().Gossip)
	}
	ev.Msg("lockd serving")
	hupStop := make(chan struct{})
	defer close(hupStop)
	go reloadOnHUP(srv, lc, hup, hupStop)
	<-sig
	return shutdown(srv, f, lc)
}

// startServer starts the server, unless SIGINT or SIGTERM arrives first:
// then it returns at once, leaving the start (a store or a cluster that
// does not answer yet) unfinished. Nothing has been served, so exiting is
// as safe as a crash before serving.
func startServer(cfg server.Config, sig <-chan os.Signal, log zerolog.Logger) (*server.Server, error) {
	type started struct {
		srv *server.Server
		err error
	}
	done := make(chan started, 1)
	go func() {
		srv, err := server.Start(cfg)
		done <- started{srv, err}
	}()
	select {
	case st := <-done:
		return st.srv, st.err
	case s := <-sig:
		log.Warn().Str("sys", "server.lifecycle.core").Str("signal", s.String()).Msg("signal while starting; exiting before serving")
		return nil, fmt.Errorf("%s while starting", s)
	}
}

// shutdown drains (Shutdown-Imminent, no new acquires) for up to 80% of the
// budget or --drain-grace, then closes the server with the rest.
func shutdown(srv *server.Server, f *serveFlags, log zerolog.Logger) error {
	sl := log.With().Str("sys", "server.shutdown.controller").Logger()
	drain := f.drainGrace
	if f.shutdownTimeout > 0 {
		drain = min(drain, f.shutdownTimeout*8/10)
	}
	if drain > 0 {
		sl.Info().Dur("drain", drain).Msg("draining")
		srv.Drain()
		time.Sleep(drain)
	}
	budget := f.shutdownTimeout - drain
	if budget <= 0 {
		budget = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(ctx) }()
	select {
	case err := <-closed:
		sl.Info().Err(err).Msg("stopped")
		return err
	case <-ctx.Done():
	}
	// A step of the teardown outlived the budget (a store or a peer that
	// does not answer). Every write this server acknowledged is already
	// durable, so leaving the rest undone is as safe as a crash, which a
	// restart recovers from; waiting on would break the budget the
	// operator (and a supervisor about to kill) counts on.
	select {
	case err := <-closed:
		sl.Info().Err(err).Msg("stopped")
		return err
	case <-time.After(shutdownSlack):
	}
	sl.Error().Dur("budget", f.shutdownTimeout).Str("step", srv.CloseStep()).Msg("shutdown did not finish within its budget; exiting with the rest of the teardown undone (acknowledged writes are durable)")
	return errShutdownBudget
}

// shutdownSlack is how long past its budget a shutdown waits for the
// teardown before it exits anyway.
const shutdownSlack = 250 * time.Millisecond

// errShutdownBudget ends a process whose teardown outlived
// --shutdown-timeout.
var errShutdownBudget = errors.New("shutdown exceeded --shutdown-timeout")

// writeDiskMetrics exports the pebble commits and fsyncs of disk:// stores
// (zero for other stores): a benchmark divides them by requests.
func writeDiskMetrics(w io.Writer) {
	commits, syncs := disk.Totals()
	metrics.WriteCounterUint64(w, `lockd_disk_commits_total`, uint64(commits))
	metrics.WriteCounterUint64(w, `lockd_disk_fsyncs_total`, uint64(syncs))
}

func startSideListeners(f *serveFlags, log zerolog.Logger) {
	if f.metricsListen != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			metrics.WritePrometheus(w, f.profiling)
		})
		go listenHTTP(f.metricsListen, mux, log.With().Str("sys", "observability.metrics").Logger())
	}
	if f.pprofListen != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go listenHTTP(f.pprofListen, mux, log.With().Str("sys", "observability.pprof").Logger())
	}
}

func listenHTTP(addr string, h http.Handler, log zerolog.Logger) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error().Err(err).Str("listen", addr).Msg("listener stopped")
	}
}

func newLogger(level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	var log zerolog.Logger
	if format == "console" {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339})
	} else {
		log = zerolog.New(os.Stderr)
	}
	return log.Level(lvl).With().Timestamp().Str("app", "lockd").Logger(), nil
}
