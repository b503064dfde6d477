package crypt

import (
	"context"
	"fmt"
	"io"

	"github.com/lockdhq/lockd/store"
)

// Options configure the decorator.
type Options struct {
	// Compress snappy-compresses record values before encryption when that
	// makes them smaller. Blobs are not compressed.
	Compress bool
}

// Store encrypts the values of an inner store. It implements store.Store;
// Wrap returns a type that also implements each optional ability of the
// inner store (store.Batcher, store.Scanner), and only those.
type Store struct {
	inner store.Store
	key   *Key
	opt   Options
}

var _ store.Store = (*Store)(nil)

// New wraps inner with encryption under root (RootKeySize bytes). Closing
// the returned store closes inner.
func New(inner store.Store, root []byte, o Options) (store.Store, error) {
	k, err := NewKey(root)
	if err != nil {
		return nil, err
	}
	return Wrap(inner, k, o), nil
}

// Wrap is New with a prepared key. The result has exactly the optional
// abilities of inner.
func Wrap(inner store.Store, k *Key, o Options) store.Store {
	s := &Store{inner: inner, key: k, opt: o}
	var bo store.Batcher
	if b, ok := inner.(store.Batcher); ok {
		bo = batchOps{s, b}
	}
	var so store.Scanner
	if sc, ok := inner.(store.Scanner); ok {
		so = scanOps{s, sc}
	}
	return store.WithAbilities(s, bo, so)
}

// KeyID returns the id of the root key (see Key.ID).
func (s *Store) KeyID() string { return s.key.ID() }

// Get returns the decrypted record under key.
func (s *Store) Get(ctx context.Context, key string) (store.Record, error) {
	rec, err := s.inner.Get(ctx, key)
	if err != nil {
		return rec, err
	}
	plain, err := s.key.openRecord(key, rec.Value)
	if err != nil {
		return store.Record{}, fmt.Errorf("record %q: %w", key, err)
	}
	return store.Record{Value: plain, ETag: rec.ETag}, nil
}

// Put encrypts value and writes it under key with cond.
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	env, err := s.key.sealRecord(key, value, s.opt.Compress)
	if err != nil {
		return "", err
	}
	return s.inner.Put(ctx, key, env, cond)
}

// Delete passes through.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	return s.inner.Delete(ctx, key, cond)
}

// List passes through: keys are not encrypted.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	return s.inner.List(ctx, prefix, after, limit)
}

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// WriteBlob encrypts r as it streams into the inner store and returns the
// plaintext byte count.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	sl, err := s.key.newSealer(name, r)
	if err != nil {
		return 0, err
	}
	if _, err := s.inner.WriteBlob(ctx, name, sl); err != nil {
		return 0, err
	}
	return sl.n, nil
}

// OpenBlob opens a decrypting reader over the blob and returns its
// plaintext size. Reads fail with ErrCorrupt if the stored stream was
// damaged, truncated or extended.
func (s *Store) OpenBlob(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	rc, stored, err := s.inner.OpenBlob(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	o, err := s.key.openStream(name, rc)
	if err == nil {
		var size int64
		if size, err = plainSize(stored); err == nil {
			return o, size, nil
		}
	}
	rc.Close()
	return nil, 0, fmt.Errorf("blob %q: %w", name, err)
}

// DeleteBlob passes through.
func (s *Store) DeleteBlob(ctx context.Context, name string) error {
	return s.inner.DeleteBlob(ctx, name)
}

// ListBlobs passes through.
func (s *Store) ListBlobs(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	return s.inner.ListBlobs(ctx, prefix, after, limit)
}

// batchOps is store.Batcher over an inner Batcher.
type batchOps struct {
	s *Store
	b store.Batcher
}

// Apply encrypts every put of the batch and applies it atomically through
// the inner store; conditions pass through unchanged.
func (o batchOps) Apply(ctx context.Context, ops []store.Op) ([]string, store.Durable, error) {
	enc := make([]store.Op, len(ops))
	for i, op := range ops {
		enc[i] = op
		if op.Delete {
			continue
		}
		env, err := o.s.key.sealRecord(op.Key, op.Value, o.s.opt.Compress)
		if err != nil {
			return nil, nil, err
		}
		enc[i].Value = env
	}
	return o.b.Apply(ctx, enc)
}

// scanOps is store.Scanner over an inner Scanner.
type scanOps struct {
	s  *Store
	sc store.Scanner
}

// Scan scans the inner store and hands fn each record decrypted. A record
// that does not open stops the scan with its error (ErrCorrupt,
// ErrWrongKey, ErrNotEncrypted), as Get would fail on it.
func (o scanOps) Scan(ctx context.Context, prefix, after string, limit int, fn func(string, store.Record) error) error {
	return o.sc.Scan(ctx, prefix, after, limit, func(key string, rec store.Record) error {
		plain, err := o.s.key.openRecord(key, rec.Value)
		if err != nil {
			return fmt.Errorf("record %q: %w", key, err)
		}
		return fn(key, store.Record{Value: plain, ETag: rec.ETag})
	})
}
