package keyspace

import (
	"errors"
	"time"
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
)

// Error carries a sentinel (Err) and the diagnostics the API returns with
// it.
type Error struct {
	Err            error
	Detail         string
	RetryAfter     time.Duration
	CurrentVersion int64
	CurrentETag    string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Err.Error() + ": " + e.Detail
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func (r *record) fail(err error, detail string) *Error {
	return &Error{Err: err, Detail: detail, CurrentVersion: r.Version, CurrentETag: r.ETag}
}
