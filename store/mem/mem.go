// Package mem is an in-memory store driver for tests and ephemeral servers.
//
// It models durability like a write-ahead log: writes applied through
// Apply are visible at once but only become durable when a Durable.Wait
// (or a later synchronous write) flushes them. Crash returns the store as a
// restarted process would find it, with every unsynced write dropped.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/lockdhq/lockd/store"
)

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

type entry struct {
	value []byte
	etag  string
}

type pendingOp struct {
	seq  uint64
	ops  []store.Op
	tags []string
}

// Store is an in-memory store. The zero value is not usable; call New.
type Store struct {
	mu      sync.Mutex
	cond    *sync.Cond
	live    map[string]entry
	durable map[string]entry
	pending []pendingOp
	synced  uint64 // highest batch sequence that is durable
	seq     uint64 // last batch sequence
	etagSeq uint64
	blobs   map[string][]byte
	held    bool
	closed  bool
}

// New returns an empty store.
func New() *Store {
	s := &Store{live: map[string]entry{}, durable: map[string]entry{}, blobs: map[string][]byte{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// HoldSyncs makes every Durable.Wait block until ReleaseSyncs, so tests can
// observe what happens before an fsync completes.
func (s *Store) HoldSyncs() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

// ReleaseSyncs lets held and future Waits complete.
func (s *Store) ReleaseSyncs() {
	s.mu.Lock()
	s.held = false
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Crash closes s and returns a new store holding only what was durable, as
// a process restarted after kill -9 would find it.
func (s *Store) Crash() *Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cond.Broadcast()
	n := New()
	for k, e := range s.durable {
		n.live[k] = e
		n.durable[k] = e
	}
	for k, b := range s.blobs {
		n.blobs[k] = b
	}
	n.etagSeq = s.etagSeq
	return n
}

func (s *Store) nextETag() string {
	s.etagSeq++
	// "m" and the sequence in hex, built in one allocation (fmt.Sprintf
	// took two on every write).
	var b [17]byte
	b[0] = 'm'
	return string(strconv.AppendUint(b[:1], s.etagSeq, 16))
}

func (s *Store) check(op store.Op) error {
	cur, ok := s.live[op.Key]
	switch {
	case op.Cond.IfNotExists && ok:
		return fmt.Errorf("%q exists: %w", op.Key, store.ErrConflict)
	case op.Cond.IfMatch != "" && !ok:
		return fmt.Errorf("%q missing: %w", op.Key, store.ErrConflict)
	case op.Cond.IfMatch != "" && cur.etag != op.Cond.IfMatch:
		return fmt.Errorf("%q etag %s != %s: %w", op.Key, cur.etag, op.Cond.IfMatch, store.ErrConflict)
	}
	return nil
}

// applyLocked checks and applies ops to the live view. The ops must be the
// store's own copies (see cloneOps): stored values are never modified, so
// the live view, the pending log and the durable view share them.
func (s *Store) applyLocked(ops []store.Op) ([]string, error) {
	if s.closed {
		return nil, store.ErrClosed
	}
	for _, op := range ops {
		if err := s.check(op); err != nil {
			return nil, err
		}
	}
	tags := make([]string, len(ops))
	for i, op := range ops {
		if op.Delete {
			delete(s.live, op.Key)
			continue
		}
		tags[i] = s.nextETag()
		s.live[op.Key] = entry{value: op.Value, etag: tags[i]}
	}
	return tags, nil
}

// flushLocked makes every pending batch up to seq durable.
func (s *Store) flushLocked(seq uint64) {
	i := 0
	for ; i < len(s.pending) && s.pending[i].seq <= seq; i++ {
		p := s.pending[i]
		for j, op := range p.ops {
			if op.Delete {
				delete(s.durable, op.Key)
			} else {
				s.durable[op.Key] = entry{value: op.Value, etag: p.tags[j]}
			}
		}
	}
	s.pending = s.pending[i:]
	if seq > s.synced {
		s.synced = seq
	}
}

// Apply applies ops atomically; they become durable on Wait.
func (s *Store) Apply(_ context.Context, ops []store.Op) ([]string, store.Durable, error) {
	ops = cloneOps(ops) // before the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.applyLocked(ops)
	if err != nil {
		return nil, nil, err
	}
	s.seq++
	s.pending = append(s.pending, pendingOp{seq: s.seq, ops: ops, tags: tags})
	return tags, &durable{s: s, seq: s.seq}, nil
}

func cloneOps(ops []store.Op) []store.Op {
	out := make([]store.Op, len(ops))
	for i, op := range ops {
		op.Value = bytes.Clone(op.Value)
		out[i] = op
	}
	return out
}

type durable struct {
	s   *Store
	seq uint64
}

func (d *durable) Wait() error {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.held && !s.closed && s.synced < d.seq {
		s.cond.Wait()
	}
	if s.synced >= d.seq {
		return nil
	}
	if s.closed {
		return store.ErrClosed
	}
	s.flushLocked(d.seq)
	return nil
}

// Get returns the live record.
func (s *Store) Get(_ context.Context, key string) (store.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Record{}, store.ErrClosed
	}
	e, ok := s.live[key]
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	return store.Record{Value: bytes.Clone(e.value), ETag: e.etag}, nil
}

// Put writes one record durably (flushing earlier batches first, as a log
// would).
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	tags, err := s.syncWrite(store.Op{Key: key, Value: value, Cond: cond})
	if err != nil {
		return "", err
	}
	return tags[0], nil
}

// Delete removes one record durably.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	_, err := s.syncWrite(store.Op{Key: key, Delete: true, Cond: cond})
	return err
}

func (s *Store) syncWrite(op store.Op) ([]string, error) {
	ops := cloneOps([]store.Op{op})
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.applyLocked(ops)
	if err != nil {
		return nil, err
	}
	s.seq++
	s.pending = append(s.pending, pendingOp{seq: s.seq, ops: ops, tags: tags})
	s.flushLocked(s.seq)
	return tags, nil
}

// List lists live record keys.
func (s *Store) List(_ context.Context, prefix, after string, limit int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	return listKeys(s.live, prefix, after, limit), nil
}

func listKeys[V any](m map[string]V, prefix, after string, limit int) []string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}

// Close closes the store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cond.Broadcast()
	return nil
}

// WriteBlob stores the whole stream.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	s.blobs[name] = data
	return int64(len(data)), nil
}

// OpenBlob returns a reader over the blob.
func (s *Store) OpenBlob(_ context.Context, name string) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, store.ErrClosed
	}
	b, ok := s.blobs[name]
	if !ok {
		return nil, 0, store.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// DeleteBlob removes a blob.
func (s *Store) DeleteBlob(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.blobs, name)
	return nil
}

// ListBlobs lists blob names.
func (s *Store) ListBlobs(_ context.Context, prefix, after string, limit int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	return listKeys(s.blobs, prefix, after, limit), nil
}

var _ store.Scanner = (*Store)(nil)

// Scan iterates live records with their values.
func (s *Store) Scan(ctx context.Context, prefix, after string, limit int, fn func(string, store.Record) error) error {
	keys, err := s.List(ctx, prefix, after, limit)
	if err != nil {
		return err
	}
	for _, k := range keys {
		rec, err := s.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		if err := fn(k, rec); err != nil {
			return err
		}
	}
	return nil
}
