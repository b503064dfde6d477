// Package disk is the local-disk store driver: records live in pebble,
// written by a group committer (one pebble commit and one fsync per round
// of many callers' batches, see committer.go), blobs in plain files
// indexed by pebble.
//
// Layout under the root directory:
//
//	pebble/          the pebble database (records and the blob index)
//	blobs/XX/ID      blob files, named by a random id, XX its first byte
//
// A directory is opened by one process at a time (pebble takes a lock).
package disk

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lockdhq/lockd/store"
)

var (
	_ store.Store   = (*Store)(nil)
	_ store.Batcher = (*Store)(nil)
)

const (
	recPrefix  = 'r' // records: r<key> -> etag(8) | value
	blobPrefix = 'b' // blob index: b<name> -> file id
	stripes    = 256
)

// Store is a pebble-backed store. It is safe for concurrent use.
type Store struct {
	db    *pebble.DB
	root  string
	seed  maphash.Seed
	locks [stripes]sync.Mutex
	// etags caches the current ETag of recently written keys per stripe
	// ("" = known absent), guarded by the stripe's lock: this process is
	// pebble's only writer, so a conditional write need not read pebble.
	etags   [stripes]map[string]string
	wopts   *pebble.WriteOptions
	syncs   atomic.Int64
	commits atomic.Int64
	// onSyncError is Options.OnSyncError, called at most once.
	onSyncError func(error)
	syncFailed  sync.Once
	pool        *filePool
	gc          *committer
}

// Options tunes the driver.
type Options struct {
	// CacheBytes is pebble's block cache size (default 32 MiB).
	CacheBytes int64
	// NoSync disables fsync. Only for benchmarks that measure the cost of
	// durability; never for production.
	NoSync bool
	// OnSyncError is called (once) when a write cannot be made durable.
	// The write is already visible in pebble's memtable although it is not
	// on disk, and pebble's error sticks: a server should stop (fail-stop,
	// as databases do on fsync errors) and restart from what is durable.
	OnSyncError func(error)
}

// Open opens or creates the store rooted at dir.
func Open(dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "d"), 0o700); err != nil {
		return nil, fmt.Errorf("disk: create %s: %w", dir, err)
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 32 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	s := &Store{root: dir, seed: maphash.MakeSeed(), wopts: pebble.Sync, onSyncError: o.OnSyncError}
	po := &pebble.Options{
		FormatMajorVersion: pebble.FormatNewest,
		Cache:              cache,
		// pebble's default 4 MiB, not 16: every write of a hot key adds a
		// skiplist entry until the next flush, and a smaller memtable is
		// searched and filled with fewer cache misses and page faults (lock
		// cycles on disk: ~0.7 -> ~0.4 page faults and ~10 % less server CPU
		// per cycle, docs/BENCHMARKS.md).
		MemTableSize: 4 << 20,
		Logger:       quietLogger{},
		FS:           countingFS{FS: vfs.Default, n: &s.syncs},
	}
	// Bloom filters (10 bits per key, ~1 % false positives) on every
	// level: a conditional create (a new queue message, a key never
	// acquired) reads a record that does not exist, and without a filter
	// that read searches the index blocks of every table that may hold it.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // later levels inherit it
	db, err := pebble.Open(filepath.Join(dir, "pebble"), po)
	if err != nil {
		return nil, fmt.Errorf("disk: open %s: %w", dir, err)
	}
	s.db = db
	if o.NoSync {
		s.wopts = pebble.NoSync
	}
	if err := s.sweepBlobs(); err != nil {
		db.Close()
		return nil, err
	}
	s.pool = newFilePool(s.blobDir(), s.countSync)
	s.gc = newCommitter(s, s.wopts)
	return s, nil
}

func recKey(key string) []byte {
	b := make([]byte, 0, len(key)+1)
	return append(append(b, recPrefix), key...)
}

func newETag() uint64 { return rand.Uint64() | 1 }

func formatETag(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

func (s *Store) stripe(key string) int {
	return int(maphash.String(s.seed, key) % stripes)
}

// lockKeys locks the stripes of keys in a fixed order and returns unlock.
func (s *Store) lockKeys(ops []store.Op) func() {
	idx := make([]int, 0, len(ops))
	for _, op := range ops {
		idx = append(idx, s.stripe(op.Key))
	}
	sort.Ints(idx)
	var held []int
	for i, v := range idx {
		if i > 0 && idx[i-1] == v {
			continue
		}
		s.locks[v].Lock()
		held = append(held, v)
	}
	return func() {
		for _, v := range held {
			s.locks[v].Unlock()
		}
	}
}

// currentETag returns the record's etag or "" when absent.
func (s *Store) currentETag(key string) (string, error) {
	if tag, ok := s.gc.tag(key); ok {
		return tag, nil
	}
	v, closer, err := s.db.Get(recKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("disk: get %q: %w", key, err)
	}
	defer closer.Close()
	if len(v) < 8 {
		return "", fmt.Errorf("disk: record %q truncated", key)
	}
	return formatETag(binary.BigEndian.Uint64(v)), nil
}

// etagCacheMax bounds the cached ETags of one stripe; past it the stripe's
// cache starts over. 256 stripes × 256 keys keep the hot set's ETags
// (about 16 MiB at most) without growing with the number of keys written.
const etagCacheMax = 256

// cachedETag returns the key's current ETag; the caller holds its stripe.
func (s *Store) cachedETag(key string) (string, error) {
	st := s.stripe(key)
	if tag, ok := s.etags[st][key]; ok {
		return tag, nil
	}
	tag, err := s.currentETag(key)
	if err == nil {
		s.remember(st, key, tag)
	}
	return tag, err
}

func (s *Store) remember(st int, key, tag string) {
	m := s.etags[st]
	if m == nil || len(m) >= etagCacheMax {
		m = make(map[string]string, 64)
		s.etags[st] = m
	}
	m[key] = tag
}

func (s *Store) checkCond(op store.Op) error {
	if op.Cond == (store.Cond{}) {
		return nil
	}
	cur, err := s.cachedETag(op.Key)
	if err != nil {
		return err
	}
	switch {
	case op.Cond.IfNotExists && cur != "":
		return fmt.Errorf("%q exists: %w", op.Key, store.ErrConflict)
	case op.Cond.IfMatch != "" && cur != op.Cond.IfMatch:
		return fmt.Errorf("%q etag %q != %q: %w", op.Key, cur, op.Cond.IfMatch, store.ErrConflict)
	}
	return nil
}

// Apply checks conditions and adds ops to the group committer's open
// round (see committer); the returned Durable waits for the round's WAL
// sync.
func (s *Store) Apply(_ context.Context, ops []store.Op) ([]string, store.Durable, error) {
	unlock := s.lockKeys(ops)
	defer unlock()
	for _, op := range ops {
		if err := s.checkCond(op); err != nil {
			return nil, nil, err
		}
	}
	tags := make([]string, len(ops))
	r, err := s.gc.add(ops, tags)
	if err != nil {
		return nil, nil, err
	}
	for i, op := range ops {
		// Cache the tags of conditionally written records (the ones
		// checked again) and keep cached ones current; unconditional bulk
		// writes (index entries) would only push the hot set out.
		st := s.stripe(op.Key)
		if _, cached := s.etags[st][op.Key]; cached || op.Cond != (store.Cond{}) {
			s.remember(st, op.Key, tags[i]) // "" for a delete
		}
	}
	return tags, r, nil
}

// forgetETagsOf drops the cached ETags of keys whose write failed.
func (s *Store) forgetETagsOf(keys []string) {
	for _, k := range keys {
		st := s.stripe(k)
		s.locks[st].Lock()
		delete(s.etags[st], k)
		s.locks[st].Unlock()
	}
}

// commit applies b; the returned Durable waits for its WAL sync.
func (s *Store) commit(b *pebble.Batch) store.Durable {
	s.countCommit()
	if s.wopts == pebble.NoSync {
		err := s.db.Apply(b, s.wopts)
		b.Close()
		return &syncErr{err: err}
	}
	if err := s.db.ApplyNoSyncWait(b, s.wopts); err != nil {
		b.Close()
		s.failed(err)
		return &syncErr{err: fmt.Errorf("disk: apply: %w", err)}
	}
	return &durable{b: b, s: s}
}

// failed reports a write that could not be made durable.
func (s *Store) failed(err error) {
	if s.onSyncError != nil {
		s.syncFailed.Do(func() { s.onSyncError(err) })
	}
}

type syncErr struct{ err error }

func (e *syncErr) Wait() error { return e.err }

type durable struct {
	once sync.Once
	b    *pebble.Batch
	s    *Store
	err  error
}

func (d *durable) Wait() error {
	d.once.Do(func() {
		d.err = d.b.SyncWait()
		d.b.Close()
		if d.err != nil {
			d.err = fmt.Errorf("disk: sync: %w", d.err)
			d.s.failed(d.err)
		}
	})
	return d.err
}

// Get reads a record.
func (s *Store) Get(_ context.Context, key string) (store.Record, error) {
	s.gc.awaitKey(key)
	v, closer, err := s.db.Get(recKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("disk: get %q: %w", key, err)
	}
	defer closer.Close()
	if len(v) < 8 {
		return store.Record{}, fmt.Errorf("disk: record %q truncated", key)
	}
	val := make([]byte, len(v)-8)
	copy(val, v[8:])
	return store.Record{Value: val, ETag: formatETag(binary.BigEndian.Uint64(v))}, nil
}

// Put writes one record durably.
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	tags, d, err := s.Apply(ctx, []store.Op{{Key: key, Value: value, Cond: cond}})
	if err != nil {
		return "", err
	}
	return tags[0], d.Wait()
}

// Delete removes one record durably.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	_, d, err := s.Apply(ctx, []store.Op{{Key: key, Delete: true, Cond: cond}})
	if err != nil {
		return err
	}
	return d.Wait()
}

// List lists record keys in order.
func (s *Store) List(_ context.Context, prefix, after string, limit int) ([]string, error) {
	return s.list(recPrefix, prefix, after, limit)
}

func (s *Store) list(kind byte, prefix, after string, limit int) ([]string, error) {
	if kind == recPrefix {
		s.gc.barrier()
	}
	lower := append([]byte{kind}, prefix...)
	upper := prefixEnd(lower)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("disk: iter: %w", err)
	}
	defer it.Close()
	var ok bool
	if after != "" && after >= prefix {
		ok = it.SeekGE(append(append([]byte{kind}, after...), 0))
	} else {
		ok = it.First()
	}
	var keys []string
	for ; ok; ok = it.Next() {
		keys = append(keys, string(it.Key()[1:]))
		if limit > 0 && len(keys) >= limit {
			break
		}
	}
	return keys, it.Error()
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Close commits what Apply was given, stops the file pool and closes
// pebble.
func (s *Store) Close() error {
	s.gc.close()
	s.pool.close()
	return s.db.Close()
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

var _ store.Scanner = (*Store)(nil)

// Scan iterates records with their values.
func (s *Store) Scan(_ context.Context, prefix, after string, limit int, fn func(string, store.Record) error) error {
	s.gc.barrier()
	lower := append([]byte{recPrefix}, prefix...)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("disk: iter: %w", err)
	}
	defer it.Close()
	ok := it.First()
	if after != "" && after >= prefix {
		ok = it.SeekGE(append(append([]byte{recPrefix}, after...), 0))
	}
	for n := 0; ok && (limit <= 0 || n < limit); ok, n = it.Next(), n+1 {
		v := it.Value()
		if len(v) < 8 {
			return fmt.Errorf("disk: record %q truncated", it.Key()[1:])
		}
		rec := store.Record{Value: v[8:], ETag: formatETag(binary.BigEndian.Uint64(v))}
		if err := fn(string(it.Key()[1:]), rec); err != nil {
			return err
		}
	}
	return it.Error()
}
