package disk

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lockdhq/lockd/store"
)

func blobKey(name string) []byte {
	return append([]byte{blobPrefix}, name...)
}

func (s *Store) blobPath(id string) string {
	return filepath.Join(s.root, "blobs", id[:2], id)
}

func newBlobID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// WriteBlob streams r to a new file, syncs it and its directory, then points
// the index at it. A crash before the index write leaves an unreferenced file
// that Open's sweep removes.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	id := newBlobID()
	tmp := filepath.Join(s.root, "blobs", "tmp", id)
	n, err := writeSynced(ctx, tmp, r)
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	final := s.blobPath(id)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("disk: blob dir: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("disk: blob rename: %w", err)
	}
	s.syncs.Add(2) // the file and its directory
	if err := syncDir(filepath.Dir(final)); err != nil {
		return 0, err
	}
	old, _ := s.blobID(name)
	b := s.db.NewBatch()
	if err := b.Set(blobKey(name), []byte(id), nil); err != nil {
		b.Close()
		return 0, err
	}
	if err := s.commit(b).Wait(); err != nil {
		os.Remove(final)
		return 0, err
	}
	if old != "" && old != id {
		os.Remove(s.blobPath(old))
	}
	return n, nil
}

func writeSynced(ctx context.Context, path string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("disk: create blob: %w", err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(f, ctxReader{ctx: ctx, r: r}, make([]byte, 1<<20))
	if err != nil {
		return n, fmt.Errorf("disk: write blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("disk: sync blob: %w", err)
	}
	return n, f.Close()
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("disk: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("disk: sync dir: %w", err)
	}
	return nil
}

func (s *Store) blobID(name string) (string, error) {
	v, closer, err := s.db.Get(blobKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("disk: blob index: %w", err)
	}
	defer closer.Close()
	return string(v), nil
}

// OpenBlob opens a blob file. An open reader stays valid even if the blob is
// deleted or replaced meanwhile.
func (s *Store) OpenBlob(_ context.Context, name string) (io.ReadCloser, int64, error) {
	id, err := s.blobID(name)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(s.blobPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, store.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("disk: open blob: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("disk: stat blob: %w", err)
	}
	return f, st.Size(), nil
}

// DeleteBlob removes the index entry durably, then the file.
func (s *Store) DeleteBlob(_ context.Context, name string) error {
	id, err := s.blobID(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	if err := b.Delete(blobKey(name), nil); err != nil {
		b.Close()
		return err
	}
	if err := s.commit(b).Wait(); err != nil {
		return err
	}
	if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("disk: remove blob: %w", err)
	}
	return nil
}

// ListBlobs lists blob names in order.
func (s *Store) ListBlobs(_ context.Context, prefix, after string, limit int) ([]string, error) {
	return s.list(blobPrefix, prefix, after, limit)
}

// sweepTmp removes half-written blobs and blob files no index entry
// references (a crash between the file and its index write).
func (s *Store) sweepTmp() error {
	tmpDir := filepath.Join(s.root, "blobs", "tmp")
	entries, err := os.ReadDir(tmpDir)
	if err != nil {
		return fmt.Errorf("disk: sweep: %w", err)
	}
	for _, e := range entries {
		os.Remove(filepath.Join(tmpDir, e.Name()))
	}
	referenced := map[string]bool{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{blobPrefix}, UpperBound: []byte{blobPrefix + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		referenced[string(it.Value())] = true
	}
	if err := it.Close(); err != nil {
		return err
	}
	dirs, err := os.ReadDir(filepath.Join(s.root, "blobs"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "tmp" {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.root, "blobs", d.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if !referenced[f.Name()] {
				os.Remove(filepath.Join(s.root, "blobs", d.Name(), f.Name()))
			}
		}
	}
	return nil
}
