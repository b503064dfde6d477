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
// New returns a type that also implements store.Batcher when the inner
// store does.
type Store struct {
	inner store.Store
	key   *Key
	opt   Options
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*batchStore)(nil)
)

type batchStore struct {
	*Store
	b store.Batcher
}

// New wraps inner with encryption under root (RootKeySize bytes). Closing
// the returned store closes inner.
func New(inner store.Store, root []byte, o Options) (store.Store, error) {
	k, err := NewKey(root)
	if err != nil {
		return nil, err
	}
	return Wrap(inner, k, o), nil
}

// Wrap is New with a prepared key.
func Wrap(inner store.Store, k *Key, o Options) store.Store {
	s := &Store{inner: inner, key: k, opt: o}
	if b, ok := inner.(store.Batcher); ok {
		return &batchStore{Store: s, b: b}
	}
	return s
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

// Apply encrypts every put of the batch and applies it atomically through
// the inner store; conditions pass through unchanged.
func (s *batchStore) Apply(ctx context.Context, ops []store.Op) ([]string, store.Durable, error) {
	enc := make([]store.Op, len(ops))
	for i, op := range ops {
		enc[i] = op
		if op.Delete {
			continue
		}
		env, err := s.key.sealRecord(op.Key, op.Value, s.opt.Compress)
		if err != nil {
			return nil, nil, err
		}
		enc[i].Value = env
	}
	return s.b.Apply(ctx, enc)
}
