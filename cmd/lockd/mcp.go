package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp"
	"github.com/lockdhq/lockd/mcp/oauth"
	"github.com/lockdhq/lockd/mcp/state"
	"github.com/lockdhq/lockd/sdk"
)

const mcpUsage = `usage: lockd mcp [flags]            serve the MCP facade (streamable HTTP, OAuth 2.1)
       lockd mcp --stdio [flags]    serve one agent over stdin/stdout
       lockd mcp admin COMMAND      manage OAuth clients (create, list, rotate, revoke)

The facade is a client of a lockd server (--server, --bundle). Every flag
has a LOCKD_MCP_* environment mirror (--oauth-state <- LOCKD_MCP_OAUTH_STATE).
See docs/MCP.md.

`

// mcpFlags are the flags of "lockd mcp".
type mcpFlags struct {
	server, bundle string
	disableMTLS    bool
	namespace      string
	stdio          bool
	listen         string
	baseURL        string
	tlsBundle      string
	disableOAuth   bool
	tokenTTL       time.Duration
	sessionTimeout time.Duration
	leaseTTL       time.Duration
	inlineBytes    int64
	chunkBytes     int64
	maxChunk       int64
	logLevel       string
	st             *mcpStateFlags
}

// mcpStateFlags locate and unlock the OAuth state (shared with admin).
type mcpStateFlags struct {
	path        string
	stateBundle string
}

func (s *mcpStateFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&s.path, "oauth-state", "", "encrypted OAuth state file (default $HOME/.lockd/mcp-oauth.state)")
	fs.StringVar(&s.stateBundle, "state-bundle", "", "bundle whose key encrypts the OAuth state (default: --bundle, else the only $HOME/.lockd/client*.pem)")
}

// open returns the state store. bundle is the connection bundle, used
// when --state-bundle is not given.
func (s *mcpStateFlags) open(bundle string) (*state.Store, error) {
	path := s.path
	if path == "" {
		dir, err := tlsutil.DefaultDir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, "mcp-oauth.state")
	}
	kb := s.stateBundle
	if kb == "" {
		kb = bundle
	}
	if kb == "" {
		found, err := tlsutil.ResolveClientBundle("")
		if err != nil {
			return nil, fmt.Errorf("the OAuth state is encrypted with a bundle's key: pass --state-bundle (a lockd client, server or CA bundle): %w", err)
		}
		kb = found
	}
	key, err := state.KeyFromBundle(kb)
	if err != nil {
		return nil, err
	}
	return state.Open(path, key), nil
}

func mcpFlagSet() (*pflag.FlagSet, *mcpFlags) {
	f := &mcpFlags{st: &mcpStateFlags{}}
	fs := pflag.NewFlagSet("lockd mcp", pflag.ContinueOnError)
	fs.StringVar(&f.server, "server", "https://127.0.0.1:9341", "lockd server URL(s), comma-separated (https://, http://, unix:///path.sock)")
	fs.StringVar(&f.bundle, "bundle", "", "client bundle for mTLS to lockd (default: the only $HOME/.lockd/client*.pem)")
	fs.BoolVar(&f.disableMTLS, "disable-mtls", false, "talk plain HTTP to lockd, without a client certificate")
	fs.StringVar(&f.namespace, "namespace", mcp.DefaultNamespace, "namespace of tool calls that name none")
	fs.BoolVar(&f.stdio, "stdio", false, "serve one MCP session over stdin/stdout (desktop agents) instead of HTTP")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9345", "address of the streamable HTTP endpoint")
	fs.StringVar(&f.baseURL, "base-url", "", "public URL of this facade, the OAuth issuer (default http(s)://LISTEN)")
	fs.StringVar(&f.tlsBundle, "tls-bundle", "", "server bundle to serve HTTPS with (default plain HTTP)")
	fs.BoolVar(&f.disableOAuth, "disable-oauth", false, "serve HTTP without OAuth (anyone who reaches the port acts with the facade's lockd identity)")
	fs.DurationVar(&f.tokenTTL, "token-ttl", oauth.DefaultTokenTTL, "lifetime of access tokens")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 10*time.Minute, "idle MCP sessions end after this (their leases are rolled back)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", mcp.DefaultLeaseTTL, "lease TTL when an agent gives none")
	fs.Int64Var(&f.inlineBytes, "inline-bytes", mcp.DefaultInlineBytes, "largest payload returned inline; larger ones are streamed")
	fs.Int64Var(&f.chunkBytes, "chunk-bytes", mcp.DefaultChunkBytes, "default chunk of download_read")
	fs.Int64Var(&f.maxChunk, "max-chunk-bytes", mcp.MaxChunkBytes, "largest chunk of download_read and upload_write")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.st.add(fs)
	return fs, f
}

// runMCP runs "lockd mcp ARGS".
func runMCP(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "admin" {
		return runMCPAdmin(args[1:], stdout)
	}
	fs, f := mcpFlagSet()
	fs.Usage = func() { fmt.Fprint(stderr, mcpUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("mcp: unexpected argument %q", fs.Arg(0))
	}
	if err := mcpApplyEnv(fs); err != nil {
		return err
	}
	log, err := mcpLogger(f.logLevel, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cli, bundle, err := f.client()
	if err != nil {
		return err
	}
	defer cli.Close()
	facade, err := mcp.New(mcp.Config{Client: cli, DefaultNamespace: f.namespace, LeaseTTL: f.leaseTTL,
		InlineBytes: f.inlineBytes, ChunkBytes: f.chunkBytes, MaxChunk: f.maxChunk, RequireAuth: !f.stdio && !f.disableOAuth,
		Name: "lockd", Logger: log})
	if err != nil {
		return err
	}
	defer facade.Close()
	if f.stdio {
		log.Info("lockd mcp serving stdio", "server", f.server)
		err := facade.RunStdio(ctx)
		if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	return f.serveHTTP(ctx, facade, bundle, log)
}

// client builds the lockd client and returns the bundle it uses.
func (f *mcpFlags) client() (*sdk.Client, string, error) {
	eps, err := sdk.ParseEndpoints(f.server, f.disableMTLS)
	if err != nil {
		return nil, "", err
	}
	opts := []sdk.Option{sdk.WithDisableMTLS(f.disableMTLS), sdk.WithUserAgent("lockd-mcp"), sdk.WithDefaultNamespace(f.namespace)}
	bundle := ""
	if !f.disableMTLS && anyTLS(eps) {
		bundle, err = tlsutil.ResolveClientBundle(f.bundle)
		if errors.Is(err, tlsutil.ErrNoClientBundle) {
			bundle, err = "", nil
		}
		if err != nil {
			return nil, "", err
		}
		if bundle != "" {
			opts = append(opts, sdk.WithBundle(bundle))
		}
	}
	cli, err := sdk.NewWithEndpoints(eps, opts...)
	return cli, bundle, err
}

func anyTLS(eps []string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") {
			return true
		}
	}
	return false
}

// serveHTTP serves the streamable endpoint (and OAuth) until ctx ends.
func (f *mcpFlags) serveHTTP(ctx context.Context, facade *mcp.Facade, bundle string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("mcp: listen: %w", err)
	}
	scheme := "http"
	var tlsCfg *tls.Config
	if f.tlsBundle != "" {
		sb, err := tlsutil.LoadServerBundle(f.tlsBundle)
		if err != nil {
			ln.Close()
			return err
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{sb.Certificate()}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	base := strings.TrimSuffix(f.baseURL, "/")
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	opts := mcp.HTTPOptions{SessionTimeout: f.sessionTimeout}
	if !f.disableOAuth {
		st, err := f.st.open(bundle)
		if err != nil {
			ln.Close()
			return err
		}
		if _, err := st.Load(); errors.Is(err, state.ErrNotFound) {
			if _, err := st.Update(func(*state.State) error { return nil }); err != nil {
				ln.Close()
				return err
			}
			log.Warn("created an empty OAuth state: register a client with lockd mcp admin create", "state", st.Path())
		} else if err != nil {
			ln.Close()
			return err
		}
		if opts.Auth, err = oauth.New(oauth.Config{Store: st, Issuer: base, Resource: base + "/mcp", TokenTTL: f.tokenTTL}); err != nil {
			ln.Close()
			return err
		}
	} else {
		log.Warn("OAuth disabled: every caller acts with the facade's lockd identity")
	}
	hs := &http.Server{Handler: facade.Handler(opts), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	if tlsCfg == nil && !f.disableOAuth && !loopbackAddr(ln.Addr()) && !strings.HasPrefix(base, "https://") {
		log.Warn("OAuth over plain HTTP on a non-loopback address: tokens and client secrets travel in clear; use --tls-bundle or a TLS proxy with --base-url https://…")
	}
	log.Info("lockd mcp serving", "listen", ln.Addr().String(), "endpoint", base+"/mcp", "server", f.server, "oauth", !f.disableOAuth)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	facade.Close() // gives back what the sessions hold before the listener goes
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	log.Info("lockd mcp stopped")
	return nil
}

// mcpApplyEnv sets every flag not given on the command line from its
// LOCKD_MCP_* mirror.
func mcpApplyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if err != nil || fl.Changed {
			return
		}
		name := "LOCKD_MCP_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(fl.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

func mcpLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("mcp: --log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func loopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
