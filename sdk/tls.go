package sdk

import (
	"crypto/tls"
	"fmt"
	"github.com/lockdhq/lockd/internal/tlsutil"
)

// clientTLS returns the TLS configuration of https endpoints: the caller's
// own, one built from a bundle (explicit, or the single
// $HOME/.lockd/client*.pem that lockd's first start creates), or the
// system defaults (nil).
func clientTLS(cfg *config) (*tls.Config, error) {
	if cfg.tls != nil {
		return cfg.tls.Clone(), nil
	}
	if cfg.disableMTLS {
		return nil, nil
	}
	path := cfg.bundlePath
	if path == "" {
		found, err := tlsutil.DiscoverClientBundle()
		if err != nil {
			return nil, nil // no bundle: plain https with the system CAs
		}
		path = found
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
