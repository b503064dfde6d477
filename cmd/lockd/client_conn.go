package main

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
)

// Environment variables of the client CLI (as lockd v0.9 names them).
const (
	envServer           = "LOCKD_CLIENT_SERVER"
	envBundle           = "LOCKD_CLIENT_BUNDLE"
	envDisableMTLS      = "LOCKD_CLIENT_DISABLE_MTLS"
	envTimeout          = "LOCKD_CLIENT_TIMEOUT"
	envCloseTimeout     = "LOCKD_CLIENT_CLOSE_TIMEOUT"
	envKeepAliveTimeout = "LOCKD_CLIENT_KEEPALIVE_TIMEOUT"
	envDrainAware       = "LOCKD_CLIENT_DRAIN_AWARE"
	envLogLevel         = "LOCKD_CLIENT_LOG_LEVEL"
	envNamespace        = "LOCKD_CLIENT_NAMESPACE"
	envKey              = "LOCKD_CLIENT_KEY"
	envLease            = "LOCKD_CLIENT_LEASE"
	envOwner            = "LOCKD_CLIENT_OWNER"
	envFencingToken     = "LOCKD_CLIENT_FENCING_TOKEN"
	envTxnID            = "LOCKD_CLIENT_TXN_ID"
	envVersion          = "LOCKD_CLIENT_VERSION"
	envETag             = "LOCKD_CLIENT_ETAG"
	envExpires          = "LOCKD_CLIENT_EXPIRES_UNIX"
	envCorrelationID    = "LOCKD_CLIENT_CORRELATION_ID"

	envQueueNamespace    = "LOCKD_QUEUE_NAMESPACE"
	envQueueName         = "LOCKD_QUEUE_NAME"
	envQueueMessageID    = "LOCKD_QUEUE_MESSAGE_ID"
	envQueueLease        = "LOCKD_QUEUE_LEASE"
	envQueueFencing      = "LOCKD_QUEUE_FENCING_TOKEN"
	envQueueMetaETag     = "LOCKD_QUEUE_META_ETAG"
	envQueuePayloadPath  = "LOCKD_QUEUE_PAYLOAD_PATH"
	envQueueCursor       = "LOCKD_QUEUE_CURSOR"
	envQueueStateLease   = "LOCKD_QUEUE_STATE_LEASE"
	envQueueStateFencing = "LOCKD_QUEUE_STATE_FENCING_TOKEN"
	envQueueStateETag    = "LOCKD_QUEUE_STATE_ETAG"
)

// defaultServer is where the client goes without --server (mTLS, as the
// server will default to once it speaks TLS).
const defaultServer = "https://127.0.0.1:9341"

// connFlags are the connection flags every client command accepts.
type connFlags struct {
	fs               *pflag.FlagSet
	env              map[string]string
	server           string
	bundle           string
	disableMTLS      bool
	timeout          time.Duration
	closeTimeout     time.Duration
	keepAliveTimeout time.Duration
	drainAware       bool
	logLevel         string
	verbose          bool
}

func newConnFlags() *connFlags {
	c := &connFlags{fs: pflag.NewFlagSet("connection", pflag.ContinueOnError)}
	fs := c.fs
	fs.StringVar(&c.server, "server", defaultServer, "server URL(s), comma-separated: https://HOST:PORT, http://HOST:PORT, unix:///PATH.sock, or HOST:PORT (https unless --disable-mtls)")
	fs.StringVar(&c.bundle, "bundle", "", "client bundle PEM for mTLS (default: the only $HOME/.lockd/client*.pem, or client.pem among several)")
	fs.BoolVar(&c.disableMTLS, "disable-mtls", false, "plain HTTP for HOST:PORT servers; no client certificate")
	fs.DurationVar(&c.timeout, "timeout", sdk.DefaultHTTPTimeout, "HTTP timeout of each request (server-side waits are added)")
	fs.DurationVar(&c.closeTimeout, "close-timeout", sdk.DefaultCloseTimeout, "timeout of a release")
	fs.DurationVar(&c.keepAliveTimeout, "keepalive-timeout", sdk.DefaultKeepAliveTimeout, "timeout of a keepalive")
	fs.BoolVar(&c.drainAware, "drain-aware-shutdown", true, "release the lease when the server announces a drain")
	fs.StringVar(&c.logLevel, "log-level", "none", "client log level: debug, info, warn, error, none")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "debug logging (same as --log-level debug)")
	c.env = map[string]string{
		"server": envServer, "bundle": envBundle, "disable-mtls": envDisableMTLS, "timeout": envTimeout,
		"close-timeout": envCloseTimeout, "keepalive-timeout": envKeepAliveTimeout,
		"drain-aware-shutdown": envDrainAware, "log-level": envLogLevel,
	}
	return c
}

// endpoints returns the normalised server URLs.
func (c *connFlags) endpoints() ([]string, error) {
	return sdk.ParseEndpoints(c.server, c.disableMTLS)
}

// client builds the SDK client of the command; extra options come last.
func (cl *cli) client(extra ...sdk.Option) (*sdk.Client, error) {
	c := cl.conn
	eps, err := c.endpoints()
	if err != nil {
		return nil, err
	}
	opts := []sdk.Option{
		sdk.WithHTTPTimeout(c.timeout), sdk.WithCloseTimeout(c.closeTimeout),
		sdk.WithKeepAliveTimeout(c.keepAliveTimeout), sdk.WithDrainAwareShutdown(c.drainAware),
		sdk.WithDisableMTLS(c.disableMTLS), sdk.WithUserAgent("lockd-cli"),
	}
	if log, err := cl.logger(); err != nil {
		return nil, err
	} else if log != nil {
		opts = append(opts, sdk.WithLogger(log))
	}
	if !c.disableMTLS && anyHTTPS(eps) {
		bundle, err := c.bundlePath()
		if err != nil {
			return nil, err
		}
		if bundle != "" {
			opts = append(opts, sdk.WithBundle(bundle))
		}
	}
	return sdk.NewWithEndpoints(eps, append(opts, extra...)...)
}

func anyHTTPS(eps []string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") {
			return true
		}
	}
	return false
}

// bundlePath is --bundle (the file must exist), else the only
// $HOME/.lockd/client*.pem or client.pem among several, else "" (https
// with the system roots and no client certificate). Several bundles
// without client.pem, or a folder that cannot be read, is an error.
func (c *connFlags) bundlePath() (string, error) {
	path, err := tlsutil.ResolveClientBundle(c.bundle)
	if errors.Is(err, tlsutil.ErrNoClientBundle) {
		return "", nil
	}
	return path, err
}

func (cl *cli) logger() (*slog.Logger, error) {
	level := strings.ToLower(strings.TrimSpace(cl.conn.logLevel))
	if cl.conn.verbose {
		level = "debug"
	}
	var l slog.Level
	switch level {
	case "", "none", "off", "disabled":
		return nil, nil
	case "trace", "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, errors.New("invalid --log-level " + level + " (debug, info, warn, error, none)")
	}
	return slog.New(slog.NewTextHandler(cl.stderr, &slog.HandlerOptions{Level: l})), nil
}
