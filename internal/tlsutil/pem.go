package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PEM block types of lockd bundles.
const (
	BlockCertificate = "CERTIFICATE"
	BlockPrivateKey  = "PRIVATE KEY"
	BlockStorageKey  = "LOCKD STORAGE KEY"
	BlockDenylist    = "LOCKD DENYLIST"
)

// StorageKeySize is the size in bytes of the storage root key.
const StorageKeySize = 32

// MaxBundleSize bounds the bundle files read from disk.
const MaxBundleSize = 1 << 20

// ErrBundle is wrapped by every error about a malformed bundle.
var ErrBundle = errors.New("tlsutil: invalid bundle")

func bundleErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBundle, fmt.Sprintf(format, args...))
}

// pemParts are the decoded blocks of a bundle, in file order.
type pemParts struct {
	cas        []*x509.Certificate
	leaves     []*x509.Certificate
	keys       []crypto.Signer
	storageKey []byte
	denylist   []string
}

// parsePEM decodes every block of data. Unknown block types are skipped;
// a malformed known block is an error.
func parsePEM(data []byte) (*pemParts, error) {
	if len(data) > MaxBundleSize {
		return nil, bundleErr("larger than %d bytes", MaxBundleSize)
	}
	p := &pemParts{}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if err := p.add(b); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *pemParts) add(b *pem.Block) error {
	switch b.Type {
	case BlockCertificate:
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return bundleErr("certificate: %v", err)
		}
		if c.IsCA {
			p.cas = append(p.cas, c)
		} else {
			p.leaves = append(p.leaves, c)
		}
	case BlockPrivateKey, "EC PRIVATE KEY", "RSA PRIVATE KEY":
		k, err := parseKey(b)
		if err != nil {
			return bundleErr("private key: %v", err)
		}
		p.keys = append(p.keys, k)
	case BlockStorageKey:
		if p.storageKey != nil {
			return bundleErr("more than one %s block", BlockStorageKey)
		}
		if len(b.Bytes) != StorageKeySize {
			return bundleErr("%s is %d bytes, want %d", BlockStorageKey, len(b.Bytes), StorageKeySize)
		}
		p.storageKey = bytes.Clone(b.Bytes)
	case BlockDenylist:
		for _, line := range strings.Split(string(b.Bytes), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			s, err := NormalizeSerial(line)
			if err != nil {
				return bundleErr("denylist: %v", err)
			}
			p.denylist = append(p.denylist, s)
		}
	}
	return nil
}

func parseKey(b *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch b.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// keyFor returns the private key whose public half is cert's, or nil.
func (p *pemParts) keyFor(cert *x509.Certificate) crypto.Signer {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, k := range p.keys {
		if pub, ok := k.Public().(equaler); ok && pub.Equal(cert.PublicKey) {
			return k
		}
	}
	return nil
}

// leafWithKey returns the first leaf that has its private key in the file,
// and the other leaves (its chain).
func (p *pemParts) leafWithKey() (*x509.Certificate, crypto.Signer, []*x509.Certificate, error) {
	for i, c := range p.leaves {
		if k := p.keyFor(c); k != nil {
			chain := append(append([]*x509.Certificate(nil), p.leaves[:i]...), p.leaves[i+1:]...)
			return c, k, chain, nil
		}
	}
	if len(p.leaves) == 0 {
		return nil, nil, nil, bundleErr("no leaf certificate")
	}
	return nil, nil, nil, bundleErr("no private key matches the leaf certificate")
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: BlockCertificate, Bytes: c.Raw})
}

func keyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: BlockPrivateKey, Bytes: der}), nil
}

func storageKeyPEM(key []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: BlockStorageKey, Bytes: key})
}

func denylistPEM(serials []string) []byte {
	if len(serials) == 0 {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: BlockDenylist, Bytes: []byte(strings.Join(serials, "\n") + "\n")})
}
