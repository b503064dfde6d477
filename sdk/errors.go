package sdk

import (
	"errors"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// APIError is an error answer of the server: its HTTP status and the
// error envelope ({"error":code,"detail":…}). Match it with errors.Is
// against the Err* sentinels, or read Code.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the server's error code (api.Code*), e.g. "lease_required".
	Code string
	// Detail is the server's human-readable explanation.
	Detail string
	// RetryAfter is the server's Retry-After hint (0 when none).
	RetryAfter time.Duration
	// QRFState is the server's admission posture (X-Lockd-QRF-State:
	// soft_arm, engaged, recovery) when it sent one, as on 429 throttled.
	QRFState string
	// CurrentVersion and CurrentETag describe the key's committed state
	// on lease and CAS failures.
	CurrentVersion int64
	CurrentETag    string
	// LeaderEndpoint names the node to retry on, when the server knows.
	LeaderEndpoint string
	// CorrelationID is the request's correlation id.
	CorrelationID string
	// Method and Path name the request that failed.
	Method, Path string
}

// Error formats the error as "lockd: POST /v1/acquire: 409 waiting: detail".
func (e *APIError) Error() string {
	msg := fmt.Sprintf("lockd: %s %s: %d %s", e.Method, e.Path, e.Status, e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is reports whether target is the sentinel of e's code (or of its
// status, for ErrThrottled and ErrUnavailable).
func (e *APIError) Is(target error) bool {
	s, ok := target.(*sentinel)
	if !ok {
		return false
	}
	for _, c := range s.codes {
		if c == e.Code {
			return true
		}
	}
	return s.status != 0 && s.status == e.Status
}

// sentinel is an error that matches APIErrors by code.
type sentinel struct {
	msg    string
	codes  []string
	status int
}

func (s *sentinel) Error() string { return s.msg }

func codeErr(msg string, codes ...string) error { return &sentinel{msg: msg, codes: codes} }

// Sentinels for the common error codes; errors.Is(err, ErrX) holds for an
// *APIError carrying one of the codes named.
var (
	// ErrAlreadyExists: acquire with IfNotExists found the key (already_exists).
	ErrAlreadyExists = codeErr("lockd: key already exists", api.CodeAlreadyExists)
	// ErrWaiting: the key is leased by someone else, or no queue message
	// arrived in time (waiting).
	ErrWaiting = codeErr("lockd: waiting", api.CodeWaiting)
	// ErrLeaseRequired: the lease is not (or no longer) held (lease_required).
	ErrLeaseRequired = codeErr("lockd: lease required", api.CodeLeaseRequired)
	// ErrLeaseExpired: the lease expired (lease_expired).
	ErrLeaseExpired = codeErr("lockd: lease expired", api.CodeLeaseExpired)
	// ErrFencingMismatch: the fencing token is stale (fencing_mismatch).
	ErrFencingMismatch = codeErr("lockd: fencing token mismatch", api.CodeFencingMismatch)
	// ErrNotFound: the resource does not exist (not_found, attachment_not_found).
	ErrNotFound = codeErr("lockd: not found", api.CodeNotFound, api.CodeAttachmentNotFound)
	// ErrVersionConflict: X-If-Version did not match (version_conflict).
	ErrVersionConflict = codeErr("lockd: version conflict", api.CodeVersionConflict)
	// ErrETagMismatch: X-If-State-ETag did not match (etag_mismatch).
	ErrETagMismatch = codeErr("lockd: etag mismatch", api.CodeETagMismatch)
	// ErrTxnMismatch: the request's txn_id is not the lease's (txn_mismatch).
	ErrTxnMismatch = codeErr("lockd: transaction mismatch", api.CodeTxnMismatch)
	// ErrCASMismatch: a concurrent change won (cas_mismatch).
	ErrCASMismatch = codeErr("lockd: concurrent modification", api.CodeCASMismatch)
	// ErrTooLarge: a body exceeded a server limit (document_too_large: a
	// state over --json-max; attachment_too_large; payload_too_large).
	ErrTooLarge = codeErr("lockd: too large", api.CodeDocumentTooLarge, api.CodePayloadTooLarge, api.CodeAttachmentTooLarge)
	// ErrQueueLeaseMismatch: an ack, nack or extend named a delivery that
	// is no longer the message's current one (it timed out and was
	// redelivered, or the lease id or fencing token is wrong), or a
	// transaction's enlisted delivery went stale
	// (queue_message_lease_mismatch). The delivery is gone: retrying the
	// same call cannot succeed.
	ErrQueueLeaseMismatch = codeErr("lockd: queue message lease mismatch", api.CodeQueueLeaseMismatch)
	// ErrDraining: the server is shutting down (shutdown_draining).
	ErrDraining = codeErr("lockd: server draining", api.CodeShutdownDraining)
	// ErrQueueDisabled: the server has no queue service (queue_disabled).
	ErrQueueDisabled = codeErr("lockd: queue disabled", api.CodeQueueDisabled)
	// ErrThrottled: the server shed load (429, throttled).
	ErrThrottled error = &sentinel{msg: "lockd: throttled", codes: []string{api.CodeThrottled}, status: 429}
	// ErrUnavailable: the node could not serve now (503).
	ErrUnavailable error = &sentinel{msg: "lockd: unavailable", codes: []string{api.CodeUnavailable}, status: 503}
)

// Errors of the client itself.
var (
	// ErrSessionClosed: the lease session was released, rolled back, closed
	// or lost.
	ErrSessionClosed = errors.New("lockd: lease session closed")
	// ErrNoEndpoints: New was given no usable endpoint.
	ErrNoEndpoints = errors.New("lockd: no endpoints")
	// ErrMessageSettled: the queue message was already acked or nacked.
	ErrMessageSettled = errors.New("lockd: queue message already settled")
)

// IsAlreadyExists reports whether err is an already_exists answer (the
// same as errors.Is(err, ErrAlreadyExists)).
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// ErrorCode returns the server's error code carried by err, or "".
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// isLeaseGone reports an answer that means the lease no longer exists:
// retrying cannot help and a release has nothing left to do.
func isLeaseGone(err error) bool {
	return errors.Is(err, ErrLeaseRequired) || errors.Is(err, ErrLeaseExpired) || errors.Is(err, ErrFencingMismatch)
}

// isDeliveryGone reports an answer that means a queue delivery no longer
// exists (acked, or redelivered to someone else): settling it again
// cannot succeed.
func isDeliveryGone(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrQueueLeaseMismatch) || isLeaseGone(err)
}
