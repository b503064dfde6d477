// Package domainerr holds the one error type the domain packages (keyspace,
// queues) return when a sentinel needs diagnostics with it, so that the edge
// maps a single type to the API's error envelope.
//
// Guarantees: an *Error always wraps a non-nil sentinel (Err), so
// errors.Is(err, pkg.ErrX) matches through it however deep it is wrapped;
// Detail is written for the API client (it never carries a store key or a
// wrapped cause) and may be sent as is.
package domainerr

import "time"

// Error carries a domain sentinel (Err) and the diagnostics the API returns
// with it.
type Error struct {
	// Err is the sentinel (e.g. keyspace.ErrWaiting); never nil.
	Err error
	// Detail is the client-facing explanation; "" means the sentinel's text.
	Detail string
	// RetryAfter is the hint sent as Retry-After (0: none).
	RetryAfter time.Duration
	// CurrentVersion and CurrentETag describe the key's committed state on
	// lease and CAS failures (zero when they do not apply).
	CurrentVersion int64
	CurrentETag    string
}

// New returns an Error of sentinel err with detail.
func New(err error, detail string) *Error { return &Error{Err: err, Detail: detail} }

// Error returns "sentinel: detail".
func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Err.Error() + ": " + e.Detail
	}
	return e.Err.Error()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
