package store

import (
	"context"
	"errors"
	"io"
)

var (
	// ErrNotFound is returned when a record or blob does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write's precondition (Cond) fails: the
	// record changed since the caller read it, or exists when it must not.
	// It is never retried by drivers.
	ErrConflict = errors.New("store: precondition failed")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt is the class of every stored object that cannot be decoded
	// or authenticated: drivers, the encryption decorator and the domain
	// decoders (keyspace, queues, txn, index) wrap it. Retrying does not
	// help, so nothing retries it; the edge answers 500 and logs it loudly.
	ErrCorrupt = errors.New("store: corrupt record")
)

// Cond is the precondition of a write. The zero Cond writes unconditionally.
type Cond struct {
	// IfMatch, when set, requires the record to exist with this ETag.
	IfMatch string
	// IfNotExists requires the record to be absent.
	IfNotExists bool
}

// Record is a stored record and its ETag.
type Record struct {
	Value []byte
	// ETag changes on every write of the record; it is opaque to callers.
	ETag string
}

// Backend stores small records with compare-and-swap. All methods are safe
// for concurrent use.
type Backend interface {
	// Get returns the record under key, or ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)
	// Put writes value under key if cond holds and returns the new ETag.
	// It returns ErrConflict when cond fails. The write is durable on return.
	Put(ctx context.Context, key string, value []byte, cond Cond) (string, error)
	// Delete removes key if cond holds. Deleting a missing key with a zero
	// Cond succeeds; with IfMatch it returns ErrConflict (or ErrNotFound).
	Delete(ctx context.Context, key string, cond Cond) error
	// List returns up to limit record keys that start with prefix and sort
	// after the key after (exclusive; "" starts at the beginning), in
	// ascending byte order.
	List(ctx context.Context, prefix, after string, limit int) ([]string, error)
	// Close releases the driver's resources.
	Close() error
}

// Blobs stores large immutable streams. A blob is written whole and never
// modified in place; writing an existing name replaces it atomically.
type Blobs interface {
	// WriteBlob streams r into the blob name and returns the byte count.
	// The blob is durable and visible only when WriteBlob returns nil; a
	// failed or cancelled write leaves no blob behind.
	WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error)
	// OpenBlob opens the blob for reading and returns its size. The caller
	// closes the reader. It returns ErrNotFound for a missing blob.
	OpenBlob(ctx context.Context, name string) (io.ReadCloser, int64, error)
	// DeleteBlob removes a blob; a missing blob is not an error.
	DeleteBlob(ctx context.Context, name string) error
	// ListBlobs lists blob names like Backend.List.
	ListBlobs(ctx context.Context, prefix, after string, limit int) ([]string, error)
}

// Store is what a driver provides: records and blobs.
type Store interface {
	Backend
	Blobs
}

// Op is one write of a batch: a put of Value, or a delete when Delete is set.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
	Cond   Cond
}

// Durable waits for a batch to reach stable storage.
type Durable interface {
	// Wait blocks until the batch is durable and returns the sync error.
	// Wait may be called any number of times, from any goroutine.
	Wait() error
}

// Batcher is implemented by drivers with atomic multi-record batches.
type Batcher interface {
	// Apply checks every op's Cond and applies all ops atomically, or none
	// of them (ErrConflict). The writes are visible to Get when Apply
	// returns; Durable reports when they are on stable storage. It returns
	// the new ETag of each op (empty for deletes).
	Apply(ctx context.Context, ops []Op) ([]string, Durable, error)
}

// Done is a Durable that is already durable.
var Done Durable = doneDurable{}

type doneDurable struct{}

func (doneDurable) Wait() error { return nil }

// Scanner is implemented by drivers that can list records together with
// their values in one pass (an engine iterator), instead of List + Get.
type Scanner interface {
	// Scan calls fn for up to limit records whose key starts with prefix
	// and sorts after after, in ascending key order. fn must not keep
	// rec.Value after returning unless it copies it. An error from fn stops
	// the scan and is returned.
	Scan(ctx context.Context, prefix, after string, limit int, fn func(key string, rec Record) error) error
}

// WithAbilities returns base with the optional abilities b and sc (nil:
// absent) and no others. A decorator returns it so that a type assertion on
// the decorator answers as it would on the store it wraps (b and sc are the
// decorator's own implementations over the inner store's).
func WithAbilities(base Store, b Batcher, sc Scanner) Store {
	switch {
	case b != nil && sc != nil:
		return struct {
			Store
			Batcher
			Scanner
		}{base, b, sc}
	case b != nil:
		return struct {
			Store
			Batcher
		}{base, b}
	case sc != nil:
		return struct {
			Store
			Scanner
		}{base, sc}
	}
	return base
}
