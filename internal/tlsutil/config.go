package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrRevoked is returned by the server's handshake check for a client
// certificate on the denylist.
var ErrRevoked = errors.New("tlsutil: certificate revoked")

// ServerConfig returns the TLS configuration of a lockd server: TLS 1.2 or
// later, the bundle's certificate, and a client certificate that chains to
// the bundle's CAs, is valid now, is meant for client authentication and
// is not on deny (nil denies nothing).
func ServerConfig(b *ServerBundle, deny *Denylist) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{b.Certificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    b.CAPool(),
		// Go verified the chain, validity and EKU before this runs.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 && deny.Revoked(cs.PeerCertificates[0]) {
				return fmt.Errorf("%w: serial %s", ErrRevoked, Serial(cs.PeerCertificates[0]))
			}
			return nil
		},
	}
}

// ClientConfig returns the TLS configuration of a lockd client or of a
// server calling another node: it presents cert and accepts a server whose
// certificate chains to roots, is meant for server authentication and
// carries the lockd server identity (or the wildcard SAN of lockd v0.9
// certificates). Host names are not checked: the private CA and the server
// identity are the trust, so one bundle serves every address of a node.
func ClientConfig(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		// InsecureSkipVerify only turns off Go's host name check; the chain
		// is verified in VerifyConnection, which runs on every handshake,
		// resumed ones included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return VerifyServer(cs.PeerCertificates, roots, time.Now())
		},
	}
}

// VerifyServer checks a server's certificate chain (leaf first) against
// roots at time now, as ClientConfig does.
func VerifyServer(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("tlsutil: server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("tlsutil: verify server certificate: %w", err)
	}
	if RoleOf(leaf) != RoleServer && !slices.Contains(leaf.DNSNames, "*") {
		return errors.New("tlsutil: server certificate has no lockd server identity (spiffe://lockd/server/…)")
	}
	return nil
}

// VerifyClient checks a client certificate chain (leaf first) against the
// server bundle b at time now: chain, validity, client EKU and denylist.
func VerifyClient(chain []*x509.Certificate, b *ServerBundle, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("tlsutil: no client certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: b.CAPool(), Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("tlsutil: verify client certificate: %w", err)
	}
	if slices.Contains(b.Denylist, Serial(chain[0])) {
		return fmt.Errorf("%w: serial %s", ErrRevoked, Serial(chain[0]))
	}
	return nil
}

// TLSConfig returns the client TLS configuration of the bundle.
func (b *ClientBundle) TLSConfig() *tls.Config { return ClientConfig(b.Certificate(), b.CAPool()) }

// ClientTLSConfig returns the TLS configuration a server uses to call
// other nodes with its own certificate.
func (b *ServerBundle) ClientTLSConfig() *tls.Config {
	return ClientConfig(b.Certificate(), b.CAPool())
}

// LoadClientBundle reads a client bundle file and returns its client TLS
// configuration (see ClientConfig). The SDK and the CLI call this for
// --bundle and for the path DiscoverClientBundle finds.
func LoadClientBundle(path string) (*tls.Config, error) {
	b, err := ReadClientBundle(path)
	if err != nil {
		return nil, err
	}
	return b.TLSConfig(), nil
}
