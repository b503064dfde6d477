package index

import "errors"

var (
	// ErrInvalidCursor reports a cursor this server did not issue.
	ErrInvalidCursor = errors.New("index: invalid cursor")
	// ErrEngineUnavailable reports that the requested engine cannot serve
	// the query now (the index is catching up and no fallback is allowed).
	ErrEngineUnavailable = errors.New("index: query engine unavailable")
	// ErrInvalidConfig reports a namespace configuration that is not valid.
	ErrInvalidConfig = errors.New("index: invalid namespace configuration")
	// ErrConfigConflict reports an If-Match that no longer holds.
	ErrConfigConflict = errors.New("index: namespace configuration changed concurrently")
	// ErrFlushBusy reports that an asynchronous flush of the namespace is
	// already running.
	ErrFlushBusy = errors.New("index: flush already in progress")
	// ErrDocumentTooLarge reports a document over the configured maximum.
	ErrDocumentTooLarge = errors.New("index: document too large")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("index: closed")
	// ErrUnavailable wraps store failures.
	ErrUnavailable = errors.New("index: unavailable")
)
