package sdk

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// clientTLS returns the TLS configuration of https endpoints: the caller's
// own; one built from the WithBundle file; when discover is set, one built
// from the bundle found in $HOME/.lockd (the only client*.pem, or
// client.pem among several, as lockd's first start creates it); or the
// system defaults (nil) when there is no bundle. Several bundles without
// client.pem, or a folder that cannot be read, is an error rather than a
// connection without a client certificate.
func clientTLS(cfg *config, discover bool) (*tls.Config, error) {
	if cfg.tls != nil {
		return cfg.tls.Clone(), nil
	}
	if cfg.disableMTLS || (cfg.bundlePath == "" && !discover) {
		return nil, nil
	}
	path, err := tlsutil.ResolveClientBundle(cfg.bundlePath)
	if errors.Is(err, tlsutil.ErrNoClientBundle) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lockd: %w", err)
	}
	return LoadBundle(path)
}

// LoadBundle reads a PEM client bundle (the client certificate, its key
// and the CA, as `lockd auth new client` writes it) and returns a TLS
// configuration that presents the client certificate and verifies the
// server: its chain to the bundle's CA, server usage and lockd server
// identity (not its host name, so one bundle serves every endpoint).
func LoadBundle(path string) (*tls.Config, error) {
	cfg, err := tlsutil.LoadClientBundle(path)
	if err != nil {
		return nil, fmt.Errorf("lockd: bundle %s: %w", path, err)
	}
	return cfg, nil
}
