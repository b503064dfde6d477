package state

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/store/crypt"
)

// ErrNoKeyMaterial reports a bundle that holds neither a storage key nor
// a private key.
var ErrNoKeyMaterial = errors.New("state: bundle holds no storage key and no private key")

const keyInfo = "lockd mcp oauth state key v1"

// KeyFromBundle derives the state's encryption key from the bundle at
// path: from its storage root key when it has one (server and CA
// bundles), else from its private key (client bundles). The same bundle
// always gives the same key.
func KeyFromBundle(path string) (*crypt.Key, error) {
	var errs []error
	if sb, err := tlsutil.LoadServerBundle(path); err == nil {
		if len(sb.StorageKey) > 0 {
			return deriveKey(sb.StorageKey)
		}
		return keyFromSigner(sb.Key)
	} else {
		errs = append(errs, err)
	}
	if ca, err := tlsutil.LoadCABundle(path); err == nil && len(ca.StorageKey) > 0 {
		return deriveKey(ca.StorageKey)
	} else if err != nil {
		errs = append(errs, err)
	}
	if cb, err := tlsutil.ReadClientBundle(path); err == nil {
		return keyFromSigner(cb.Key)
	} else {
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("state: key from bundle %s: %w", path, errors.Join(errs...))
}

func keyFromSigner(k any) (*crypt.Key, error) {
	if k == nil {
		return nil, ErrNoKeyMaterial
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("state: encode private key: %w", err)
	}
	return deriveKey(der)
}

// deriveKey turns secret material into the state's root key, separate
// from the storage key it may come from.
func deriveKey(secret []byte) (*crypt.Key, error) {
	root, err := hkdf.Key(sha256.New, secret, nil, keyInfo, crypt.RootKeySize)
	if err != nil {
		return nil, fmt.Errorf("state: derive key: %w", err)
	}
	return crypt.NewKey(root)
}

// KeyFromSecret derives a state key from raw secret material (tests, and
// deployments that keep the key outside a bundle).
func KeyFromSecret(secret []byte) (*crypt.Key, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("state: secret of %d bytes is too short (want at least 16)", len(secret))
	}
	return deriveKey(secret)
}
