package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
)

// TC identity for "lockd tc" and "lockd txn". The TC endpoints answer only
// a TC client certificate (`lockd auth new tcclient`, tc-client*.pem) or a
// server certificate (server.pem) under mTLS, so these tools look for
// those bundles, not for the SDK's client*.pem.

// tcTrustDirName is the folder under $HOME/.lockd whose CA certificates
// (PEM files) are trusted besides the bundle's own CA, to reach TC nodes
// issued by another CA (an island run by another team).
const tcTrustDirName = "tc-trust.d"

// errNoTCBundle: mTLS is on and no TC or server bundle was found.
var errNoTCBundle = errors.New("no TC bundle")

// tcTarget is how a TC tool reaches the coordinator.
type tcTarget struct {
	endpoints []string // normalised URLs
	// bundle is --bundle (a TC client or server bundle); serverBundle is
	// --server-bundle; preferServer makes $HOME/.lockd/server.pem the
	// first choice (announce and leave speak for a node).
	bundle, serverBundle string
	preferServer         bool
	trustDir             string
	disableMTLS          bool
}

// options returns the SDK options that give the client its TC identity.
func (t tcTarget) options() ([]sdk.Option, error) {
	if t.disableMTLS || !anyHTTPS(t.endpoints) {
		return []sdk.Option{sdk.WithDisableMTLS(t.disableMTLS)}, nil
	}
	path, err := resolveTCBundle(t.bundle, t.serverBundle, t.preferServer)
	if err != nil {
		return nil, err
	}
	b, err := tlsutil.ReadClientBundle(path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	pool := b.CAPool()
	extra, err := trustedCAs(t.trustDir)
	if err != nil {
		return nil, err
	}
	for _, pem := range extra {
		pool.AppendCertsFromPEM(pem)
	}
	return []sdk.Option{sdk.WithTLSConfig(tlsutil.ClientConfig(b.Certificate(), pool))}, nil
}

// resolveTCBundle picks the bundle a TC tool presents: --bundle, else
// --server-bundle (both must exist), else in $HOME/.lockd server.pem
// first when preferServer is set, then the only tc-client*.pem (or
// tc-client.pem among several), then server.pem.
func resolveTCBundle(explicit, server string, preferServer bool) (string, error) {
	for _, p := range []string{explicit, server} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("bundle: %w", err)
		}
		return p, nil
	}
	dir, err := tlsutil.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("%w: %w (pass --bundle)", errNoTCBundle, err)
	}
	serverPEM := filepath.Join(dir, tlsutil.ServerFile)
	if preferServer && fileExists(serverPEM) {
		return serverPEM, nil
	}
	found, err := tlsutil.Glob(dir, "tc-client")
	if err != nil {
		return "", fmt.Errorf("look for TC bundles in %s: %w", dir, err)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		for _, f := range found {
			if filepath.Base(f) == tlsutil.TCClientFile {
				return f, nil
			}
		}
		return "", fmt.Errorf("several TC bundles in %s and none is %s (%s): choose one with --bundle",
			dir, tlsutil.TCClientFile, strings.Join(found, ", "))
	case fileExists(serverPEM):
		return serverPEM, nil
	}
	return "", fmt.Errorf("%w in %s (create one with `lockd auth new tcclient`, or pass --bundle)", errNoTCBundle, dir)
}

// trustedCAs reads every file of dir (default $HOME/.lockd/tc-trust.d; a
// missing folder is empty).
func trustedCAs(dir string) ([][]byte, error) {
	if dir == "" {
		home, err := tlsutil.DefaultDir()
		if err != nil {
			return nil, nil
		}
		dir = filepath.Join(home, tcTrustDirName)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust dir: %w", err)
	}
	var out [][]byte
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("trust dir: %w", err)
		}
		out = append(out, data)
	}
	return out, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// newTCConnFlags are the connection flags of "lockd tc" and "lockd txn":
// those of "lockd client" that matter to one TC call, with the same
// LOCKD_CLIENT_* variables.
func newTCConnFlags() *connFlags {
	c := &connFlags{fs: pflag.NewFlagSet("connection", pflag.ContinueOnError), timeout: sdk.DefaultHTTPTimeout}
	fs := c.fs
	fs.StringVar(&c.server, "server", defaultServer, "server URL(s), comma-separated: https://HOST:PORT, http://HOST:PORT, unix:///PATH.sock, or HOST:PORT (https unless --disable-mtls)")
	fs.StringVar(&c.bundle, "bundle", "", "TC client or server bundle PEM for mTLS (default: the only $HOME/.lockd/tc-client*.pem, or tc-client.pem among several, else $HOME/.lockd/server.pem)")
	fs.BoolVar(&c.disableMTLS, "disable-mtls", false, "plain HTTP for HOST:PORT servers; no client certificate")
	fs.DurationVar(&c.timeout, "timeout", sdk.DefaultHTTPTimeout, "HTTP timeout of each request")
	fs.StringVar(&c.logLevel, "log-level", "none", "client log level: debug, info, warn, error, none")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "debug logging (same as --log-level debug)")
	c.env = map[string]string{"server": envServer, "bundle": envBundle, "disable-mtls": envDisableMTLS,
		"timeout": envTimeout, "log-level": envLogLevel}
	return c
}
