package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"slices"
)

// CABundle is the content of ca.pem: the trust anchor, its private key and
// the storage root key every server bundle inherits.
type CABundle struct {
	Cert       *x509.Certificate
	Key        crypto.Signer
	StorageKey []byte
}

// ServerBundle is the content of a server*.pem file.
type ServerBundle struct {
	// CAs are the trust anchors client certificates must chain to.
	CAs []*x509.Certificate
	// Leaf is the server certificate; Chain its intermediates, leaf-first.
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	Key   crypto.Signer
	// StorageKey is the storage root key (StorageKeySize bytes), or nil.
	StorageKey []byte
	// Denylist holds revoked serials, normalized (see NormalizeSerial),
	// sorted and unique.
	Denylist []string
}

// ClientBundle is the content of a client*.pem or tc-client*.pem file.
type ClientBundle struct {
	// CAs are the trust anchors the server certificate must chain to.
	CAs   []*x509.Certificate
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// readBundle reads a bundle file of at most MaxBundleSize bytes.
func readBundle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("tlsutil: read %s: %w", path, err)
	}
	return data, nil
}

// ParseCABundle decodes ca.pem content.
func ParseCABundle(data []byte) (*CABundle, error) {
	p, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	for _, c := range p.cas {
		if k := p.keyFor(c); k != nil {
			if p.storageKey == nil {
				return nil, bundleErr("CA bundle has no %s block", BlockStorageKey)
			}
			return &CABundle{Cert: c, Key: k, StorageKey: p.storageKey}, nil
		}
	}
	if len(p.cas) == 0 {
		return nil, bundleErr("no CA certificate")
	}
	return nil, bundleErr("no private key matches the CA certificate")
}

// LoadCABundle reads and decodes a CA bundle file.
func LoadCABundle(path string) (*CABundle, error) {
	data, err := readBundle(path)
	if err != nil {
		return nil, err
	}
	b, err := ParseCABundle(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Encode returns the PEM form of the CA bundle.
func (b *CABundle) Encode() ([]byte, error) {
	k, err := keyPEM(b.Key)
	if err != nil {
		return nil, err
	}
	return slices.Concat(certPEM(b.Cert), k, storageKeyPEM(b.StorageKey)), nil
}

// ParseServerBundle decodes server bundle content. It requires at least one
// CA certificate and a server leaf with its key; the storage key and the
// denylist are optional.
func ParseServerBundle(data []byte) (*ServerBundle, error) {
	p, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	leaf, key, chain, err := p.leafWithKey()
	if err != nil {
		return nil, err
	}
	if len(p.cas) == 0 {
		return nil, bundleErr("no CA certificate")
	}
	return &ServerBundle{CAs: p.cas, Leaf: leaf, Chain: chain, Key: key,
		StorageKey: p.storageKey, Denylist: NormalizeSerials(p.denylist)}, nil
}

// LoadServerBundle reads and decodes a server bundle file.
func LoadServerBundle(path string) (*ServerBundle, error) {
	data, err := readBundle(path)
	if err != nil {
		return nil, err
	}
	b, err := ParseServerBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Encode returns the PEM form of the server bundle.
func (b *ServerBundle) Encode() ([]byte, error) {
	var buf bytes.Buffer
	for _, c := range b.CAs {
		buf.Write(certPEM(c))
	}
	buf.Write(certPEM(b.Leaf))
	for _, c := range b.Chain {
		buf.Write(certPEM(c))
	}
	k, err := keyPEM(b.Key)
	if err != nil {
		return nil, err
	}
	buf.Write(k)
	if b.StorageKey != nil {
		buf.Write(storageKeyPEM(b.StorageKey))
	}
	buf.Write(denylistPEM(NormalizeSerials(b.Denylist)))
	return buf.Bytes(), nil
}

// Certificate returns the leaf, its chain and key for a tls.Config.
func (b *ServerBundle) Certificate() tls.Certificate {
	return tlsCert(b.Leaf, b.Chain, b.Key)
}

// CAPool returns a pool of the bundle's CA certificates.
func (b *ServerBundle) CAPool() *x509.CertPool { return pool(b.CAs) }

// ParseClientBundle decodes client bundle content: at least one CA
// certificate and a client leaf with its key.
func ParseClientBundle(data []byte) (*ClientBundle, error) {
	p, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	leaf, key, chain, err := p.leafWithKey()
	if err != nil {
		return nil, err
	}
	if len(p.cas) == 0 {
		return nil, bundleErr("no CA certificate")
	}
	return &ClientBundle{CAs: p.cas, Leaf: leaf, Chain: chain, Key: key}, nil
}

// ReadClientBundle reads and decodes a client bundle file.
func ReadClientBundle(path string) (*ClientBundle, error) {
	data, err := readBundle(path)
	if err != nil {
		return nil, err
	}
	b, err := ParseClientBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Encode returns the PEM form of the client bundle. The leaf comes first
// so that tools which take the first certificate of a file as the client
// certificate (curl --cert, OpenSSL) can use the bundle as it is.
func (b *ClientBundle) Encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(certPEM(b.Leaf))
	for _, c := range b.Chain {
		buf.Write(certPEM(c))
	}
	k, err := keyPEM(b.Key)
	if err != nil {
		return nil, err
	}
	buf.Write(k)
	for _, c := range b.CAs {
		buf.Write(certPEM(c))
	}
	return buf.Bytes(), nil
}

// Certificate returns the leaf, its chain and key for a tls.Config.
func (b *ClientBundle) Certificate() tls.Certificate {
	return tlsCert(b.Leaf, b.Chain, b.Key)
}

// CAPool returns a pool of the bundle's CA certificates.
func (b *ClientBundle) CAPool() *x509.CertPool { return pool(b.CAs) }

func tlsCert(leaf *x509.Certificate, chain []*x509.Certificate, key crypto.Signer) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

func pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
