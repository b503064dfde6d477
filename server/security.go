package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/edge"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/crypt"
)

// Security is a node's mutual TLS and storage encryption, both built from
// one server bundle. The zero value serves plain HTTP and stores plaintext
// (tests, --disable-mtls without a bundle).
type Security struct {
	// Bundle is the server bundle; nil means no TLS and no encryption.
	Bundle *tlsutil.ServerBundle
	// BundlePath, when set, is where Bundle was read; the server re-reads
	// its denylist when the file changes (lockd auth revoke).
	BundlePath string
	// DisableMTLS serves plain HTTP although a bundle is loaded (storage
	// encryption stays on).
	DisableMTLS bool
	// DisableEncryption stores plaintext although a bundle is loaded.
	DisableEncryption bool
	// Compress snappy-compresses record values before encryption.
	Compress bool

	deny *tlsutil.Denylist
}

// MTLS reports whether the listener serves mutual TLS.
func (s *Security) MTLS() bool { return s.Bundle != nil && !s.DisableMTLS }

// Encrypted reports whether the store is encrypted.
func (s *Security) Encrypted() bool { return s.Bundle != nil && !s.DisableEncryption }

// Validate checks that the bundle can do what is asked of it.
func (s *Security) Validate() error {
	if s.Encrypted() && len(s.Bundle.StorageKey) != crypt.RootKeySize {
		return errors.New("server bundle has no LOCKD STORAGE KEY block (issue it with `lockd auth new server`), " +
			"or start with --disable-storage-encryption")
	}
	return nil
}

// key returns the storage key; Validate guarantees its size.
func (s *Security) key() *crypt.Key {
	k, err := crypt.NewKey(s.Bundle.StorageKey)
	if err != nil {
		panic("server: storage key: " + err.Error())
	}
	return k
}

// WrapStore returns st behind the encryption decorator when encryption is
// on, else st.
func (s *Security) WrapStore(st store.Store) store.Store {
	if !s.Encrypted() {
		return st
	}
	return crypt.Wrap(st, s.key(), crypt.Options{Compress: s.Compress})
}

// CheckStore samples raw (the store under the decorator) and fails when
// it was written under another root key, or encrypted while encryption is
// off, or in plaintext while it is on: a server never serves a store it
// cannot read.
func (s *Security) CheckStore(ctx context.Context, raw store.Store) error {
	var k *crypt.Key
	if s.Encrypted() {
		k = s.key()
	}
	rep, err := crypt.Inspect(ctx, raw, k, 16)
	if err != nil {
		return err
	}
	return rep.Check(s.Encrypted())
}

// edgeTLS returns the edge's TLS settings, or nil for plain HTTP.
func (s *Security) edgeTLS() *edge.TLS {
	if !s.MTLS() {
		return nil
	}
	if s.deny == nil {
		if s.BundlePath != "" {
			s.deny = tlsutil.FollowBundle(s.BundlePath, s.Bundle.Denylist)
		} else {
			s.deny = tlsutil.NewDenylist(s.Bundle.Denylist)
		}
	}
	b, deny := s.Bundle, s.deny
	return &edge.TLS{Config: tlsutil.ServerConfig(b, deny), Denylist: deny, Client: b.ClientTLSConfig(),
		VerifyClient: func(chain []*x509.Certificate) error {
			if err := tlsutil.VerifyClient(chain, b, time.Now()); err != nil {
				return err
			}
			if deny.Revoked(chain[0]) {
				return fmt.Errorf("%w: serial %s", tlsutil.ErrRevoked, tlsutil.Serial(chain[0]))
			}
			return nil
		}}
}

// scheme is the URL scheme clients use.
func (s *Security) scheme() string {
	if s.MTLS() {
		return "https"
	}
	return "http"
}

// checkStoreOnStart runs CheckStore with a bound.
func (s *Security) checkStoreOnStart(raw store.Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.CheckStore(ctx, raw); err != nil {
		return fmt.Errorf("store check: %w", err)
	}
	return nil
}

// ReloadRevocations re-reads the denylist of the server bundle file now
// (the server also notices a changed file by itself within a second).
// Connections of newly revoked certificates get 403 certificate_revoked on
// their next request; new handshakes are refused.
func (s *Server) ReloadRevocations() error { return s.cfg.Security.deny.Reload() }

// indexSealKey is the key that hides indexed values in posting keys when
// the store is encrypted (nil otherwise). It is derived from the storage
// root key, so the index reads back only under the same bundle.
func (s *Security) indexSealKey() []byte {
	if !s.Encrypted() {
		return nil
	}
	k, err := hkdf.Key(sha256.New, s.Bundle.StorageKey, nil, "lockd index terms v1", 32)
	if err != nil {
		panic("server: derive index key: " + err.Error())
	}
	return k
}
