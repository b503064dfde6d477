package sdk

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// clientTLS returns the TLS configuration of https endpoints: the caller's
// own, one built from a bundle, or the system defaults (nil).
func clientTLS(cfg *config) (*tls.Config, error) {
	if cfg.tls != nil {
		return cfg.tls.Clone(), nil
	}
	if cfg.bundlePath == "" || cfg.disableMTLS {
		return nil, nil
	}
	return LoadBundle(cfg.bundlePath)
}

// LoadBundle reads a PEM client bundle (CA certificates, the client
// certificate and its private key, in any order) and returns a TLS
// configuration that presents the client certificate and accepts a server
// certificate issued by the bundle's CA for any host name.
func LoadBundle(path string) (*tls.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lockd: read bundle: %w", err)
	}
	var certs [][]byte
	var keyPEM []byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, pem.EncodeToMemory(b))
		case len(keyPEM) == 0 && (b.Type == "PRIVATE KEY" || b.Type == "EC PRIVATE KEY" || b.Type == "RSA PRIVATE KEY"):
			keyPEM = pem.EncodeToMemory(b)
		}
	}
	if len(certs) == 0 || len(keyPEM) == 0 {
		return nil, fmt.Errorf("lockd: bundle %s: want CERTIFICATE blocks and a private key", path)
	}
	leaf, roots, err := splitBundle(certs, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("lockd: bundle %s: %w", path, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{leaf},
		RootCAs:      roots,
		// The chain is verified below without the host name check.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		},
	}, nil
}

// splitBundle finds the certificate matching the key; the others are CAs.
func splitBundle(certs [][]byte, keyPEM []byte) (tls.Certificate, *x509.CertPool, error) {
	roots := x509.NewCertPool()
	var leaf tls.Certificate
	found := false
	for _, c := range certs {
		if pair, err := tls.X509KeyPair(c, keyPEM); err == nil && !found {
			leaf, found = pair, true
			continue
		}
		roots.AppendCertsFromPEM(c)
	}
	if !found {
		return leaf, nil, errors.New("no certificate matches the private key")
	}
	return leaf, roots, nil
}

func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("lockd: server sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		CurrentTime:   time.Now(),
	}
	var leaf *x509.Certificate
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("lockd: parse server certificate: %w", err)
		}
		if i == 0 {
			leaf = c
		} else {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("lockd: verify server certificate: %w", err)
	}
	return nil
}
