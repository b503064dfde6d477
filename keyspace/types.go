package keyspace

import (
	"context"
	"io"
	"time"
)

// Ref names a key.
type Ref struct {
	Namespace string
	Key       string
}

// LeaseProof is what a caller presents to act under a lease.
type LeaseProof struct {
	LeaseID string
	Fencing uint64
	// TxnID must match the lease's transaction when set; operations that
	// write require it.
	TxnID string
}

// AcquireRequest asks for the lease on a key.
type AcquireRequest struct {
	Ref
	Owner string
	// TTL of the lease; the service clamps it to [1ns, MaxTTL] and uses
	// DefaultTTL when zero.
	TTL time.Duration
	// Wait is how long to wait for a held lease (0 = fail at once).
	Wait        time.Duration
	IfNotExists bool
	// TxnID joins an existing transaction; empty mints a new one.
	TxnID string
	// Enlist marks the lease as a participant of a multi-participant
	// transaction (set by the coordinator for joining acquires).
	Enlist bool
	// WhileBlocked, if set, is called once the acquire has to wait for the
	// lease: the context it returns ends the wait early (the client went
	// away) and the func releases what it holds. Acquires answered at once
	// never call it.
	WhileBlocked func() (context.Context, func())
	// Delivered, if set, is called when a lease granted after waiting
	// goes to the caller; its abandon gives the lease back (a forwarding
	// node whose client left takes it back; actors.Blocking).
	Delivered func(abandon func())
}

// Lease is a granted lease.
type Lease struct {
	Ref
	Owner     string
	LeaseID   string
	TxnID     string
	ExpiresAt time.Time
	Fencing   uint64
	Version   int64
	ETag      string
}

// KeepAliveRequest extends a lease.
type KeepAliveRequest struct {
	Ref
	LeaseProof
	TTL time.Duration
}

// ReleaseRequest ends a lease, committing or rolling back staged writes.
type ReleaseRequest struct {
	Ref
	LeaseProof
	Rollback bool
}

// GetRequest reads state: the holder's view with a proof, else (Public)
// the committed state.
type GetRequest struct {
	Ref
	Public bool
	LeaseProof
}

// View is a readable state. When NoState is false the body is Inline, or
// the blob the service opens with OpenState.
type View struct {
	NoState bool
	Version int64
	ETag    string
	Size    int64
	Hidden  bool
	Fencing uint64 // lease token for lease-bound reads
	Inline  []byte
	blob    string
}

// UpdateRequest stages a new state. Body is compact JSON of Size bytes
// whose SHA-256 (hex) is ETag. A caller that holds the whole document may
// give it as Inline instead of Body (the service then owns the slice).
type UpdateRequest struct {
	Ref
	LeaseProof
	IfVersion *int64
	IfETag    string
	Hidden    *bool
	Body      io.Reader
	Inline    []byte
	Size      int64
	ETag      string
}

// UpdateResult reports a staged update.
type UpdateResult struct {
	NewVersion int64
	NewETag    string
	Bytes      int64
	Hidden     bool
}

// RemoveRequest stages the removal of a key's state.
type RemoveRequest struct {
	Ref
	LeaseProof
	IfVersion *int64
	IfETag    string
}

// RemoveResult reports a staged removal.
type RemoveResult struct {
	Removed    bool
	NewVersion int64
}

// MetadataRequest stages metadata attributes.
type MetadataRequest struct {
	Ref
	LeaseProof
	IfVersion *int64
	Hidden    *bool
}

// MetadataResult reports staged metadata.
type MetadataResult struct {
	Version int64
	Hidden  bool
}

// Description is a key's lease and committed state metadata.
type Description struct {
	Ref
	Owner     string
	LeaseID   string
	ExpiresAt time.Time // zero when no lease
	Version   int64
	ETag      string
	UpdatedAt time.Time // zero when never committed
	Hidden    bool
}
