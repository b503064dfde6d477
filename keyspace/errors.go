package keyspace

import (
	"errors"

	"github.com/lockdhq/lockd/internal/domainerr"
)

// Sentinel errors. The edge maps each to an HTTP status and error code.
var (
	ErrLeaseRequired   = errors.New("keyspace: lease required")
	ErrLeaseExpired    = errors.New("keyspace: lease expired")
	ErrFencingMismatch = errors.New("keyspace: fencing token mismatch")
	ErrTxnMismatch     = errors.New("keyspace: transaction mismatch")
	ErrMissingTxn      = errors.New("keyspace: transaction id required")
	ErrAlreadyExists   = errors.New("keyspace: key already exists")
	ErrVersionConflict = errors.New("keyspace: state version mismatch")
	ErrETagMismatch    = errors.New("keyspace: state etag mismatch")
	ErrWaiting         = errors.New("keyspace: lease already held")
	// ErrAborted: a commit was asked of a lease whose transaction rolled
	// back.
	ErrAborted  = errors.New("keyspace: transaction rolled back")
	ErrDraining = errors.New("keyspace: server is draining")
	// ErrUnavailable means the key's actor could not serve (storage failure,
	// restart); the request may be retried.
	ErrUnavailable = errors.New("keyspace: key unavailable")
	// ErrMoved is answered to a blocked acquire when its key moved to
	// another node (cluster membership changed); the caller retries there.
	ErrMoved = errors.New("keyspace: key moved to another node")
	// ErrConflict means the key's record changed in the store behind this
	// node's back (another node wrote it); the actor reloads.
	ErrConflict = errors.New("keyspace: record changed concurrently")
	// ErrInDoubt: the lease voted yes to the prepare of another island's
	// coordinator, so only that coordinator's decision (or an operator's)
	// settles it; this island's own coordinator may neither prepare nor
	// decide it.
	ErrInDoubt = errors.New("keyspace: participant in doubt: another island's coordinator decides it")
)

// Errors with diagnostics (retry hint, current version and etag) are
// *domainerr.Error values wrapping one of the sentinels above.

func (r *record) fail(err error, detail string) *domainerr.Error {
	return &domainerr.Error{Err: err, Detail: detail, CurrentVersion: r.Version, CurrentETag: r.ETag}
}
