package queues

import (
	"errors"

	"github.com/lockdhq/lockd/internal/domainerr"
)

// Sentinel errors. The edge maps each to an HTTP status and error code.
var (
	// ErrNotFound means the message does not exist (never did, or was acked
	// or moved away).
	ErrNotFound = errors.New("queues: message not found")
	// ErrLeaseRequired means the message is not leased by the given
	// delivery (it was requeued or delivered to someone else).
	ErrLeaseRequired = errors.New("queues: message lease required")
	// ErrLeaseExpired means the delivery's visibility timeout ran out.
	ErrLeaseExpired = errors.New("queues: message lease expired")
	// ErrFencingMismatch means the fencing token is not the delivery's.
	ErrFencingMismatch = errors.New("queues: fencing token mismatch")
	// ErrTxnMismatch means the txn_id is not the delivery's.
	ErrTxnMismatch = errors.New("queues: transaction mismatch")
	// ErrMetaChanged means meta_etag is not the message's current one.
	ErrMetaChanged = errors.New("queues: message metadata changed")
	// ErrEmpty means no message became available within the wait.
	ErrEmpty = errors.New("queues: no messages available")
	// ErrStateBusy means the message's workflow state is leased by someone
	// else (a previous delivery whose state lease has not expired yet).
	ErrStateBusy = errors.New("queues: workflow state lease busy")
	// ErrNoState means state was requested but no StateLeaser is configured.
	ErrNoState = errors.New("queues: workflow state not configured")
	// ErrReadOnly means the operation is not allowed on the addressed queue
	// (enqueue into a DLQ, requeue from a queue that is not a DLQ).
	ErrReadOnly = errors.New("queues: operation not allowed on this queue")
	// ErrUnavailable means the queue's actor could not serve (storage
	// failure, restart); the request may be retried.
	ErrUnavailable = errors.New("queues: queue unavailable")
	// ErrMoved ends the waits and streams of a queue that moved to another
	// node (cluster membership changed); the caller retries there.
	ErrMoved = errors.New("queues: queue moved to another node")
	// ErrStopped ends a subscription that was stopped (Subscription.Stop)
	// once the deliveries it made before stopping are returned.
	ErrStopped = errors.New("queues: subscription stopped")
	// ErrConflict means a record changed in the store behind this node's
	// back; the actor reloads the queue.
	ErrConflict = errors.New("queues: record changed concurrently")
)

// Errors with diagnostics (a retry hint) are *domainerr.Error values
// wrapping one of the sentinels above.

func fail(err error, detail string) *domainerr.Error { return domainerr.New(err, detail) }
