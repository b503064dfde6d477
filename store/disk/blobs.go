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
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/lockdhq/lockd/store"
)

func blobKey(name string) []byte {
	return append([]byte{blobPrefix}, name...)
}

func (s *Store) blobPath(id string) string {
	return filepath.Join(s.blobDir(), id)
}

func (s *Store) blobDir() string { return filepath.Join(s.root, "blobs", "d") }

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

// WriteBlob streams r into an empty file whose directory entry is already
// durable (see filePool), syncs it, then points the index at it. A crash
// before the index write leaves an unreferenced file that Open's sweep
// removes.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	id, err := s.pool.take()
	if err != nil {
		return 0, err
	}
	path := s.blobPath(id)
	n, err := writeSynced(ctx, path, r)
	s.countSync()
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	old, _ := s.blobID(name)
	b := s.db.NewBatch()
	if err := b.Set(blobKey(name), []byte(id), nil); err != nil {
		b.Close()
		os.Remove(path)
		return 0, err
	}
	if err := s.commit(b).Wait(); err != nil {
		os.Remove(path)
		return 0, err
	}
	if old != "" && old != id {
		os.Remove(s.blobPath(old))
	}
	return n, nil
}

// copyBufs holds blob writes' copy buffers (1 MiB each, so that a small
// upload does not allocate and clear a fresh one).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// writeSynced writes r into the existing empty file path and syncs it.
func writeSynced(ctx context.Context, path string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("disk: open blob: %w", err)
	}
	defer f.Close()
	buf := copyBufs.Get().(*[]byte)
	n, err := copyFull(f, ctxReader{ctx: ctx, r: r}, *buf)
	copyBufs.Put(buf)
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

// sweepBlobs removes blob files no index entry references: files of
// writes that crashed before their index write, and unused pool files.
func (s *Store) sweepBlobs() error {
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
	files, err := os.ReadDir(s.blobDir())
	if err != nil {
		return fmt.Errorf("disk: sweep: %w", err)
	}
	for _, f := range files {
		if !referenced[f.Name()] {
			os.Remove(filepath.Join(s.blobDir(), f.Name()))
		}
	}
	return nil
}

// copyFull copies r to w in writes of a full buffer: request bodies arrive
// in reads of a few KiB, and one write per read would cost a system call
// per few KiB. Only io.EOF ends the copy; any other error (a truncated
// body reports io.ErrUnexpectedEOF) fails it.
func copyFull(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, rerr := fill(r, buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// fill reads into buf until it is full or r fails, returning r's error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
