package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// ToolError is what an agent gets when a tool fails: the lockd error code,
// the detail and the next step. Its Error text is that JSON object.
type ToolError struct {
	Code   string `json:"error"`
	Detail string `json:"detail,omitempty"`
	Next   string `json:"next_step"`
	// RetryAfterSeconds is set when waiting and retrying is the fix.
	RetryAfterSeconds int64 `json:"retry_after_seconds,omitempty"`
	// CurrentVersion and CurrentETag describe the committed state after a
	// failed conditional write.
	CurrentVersion int64  `json:"current_version,omitempty"`
	CurrentETag    string `json:"current_etag,omitempty"`
}

// Error returns the JSON form, so the agent can read every field.
func (e *ToolError) Error() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// Facade error codes that lockd itself does not have.
const (
	CodeLeaseNotHeld    = "lease_not_held"
	CodeMessageNotHeld  = "message_not_held"
	CodeTxnNotHeld      = "txn_not_held"
	CodeTransferUnknown = "transfer_not_found"
	CodeInvalidArgument = "invalid_argument"
	CodeUnauthorized    = "unauthorized"
	CodeTimeout         = "timeout"
	CodeTooManyLeases   = "too_many_leases"
)

func errArg(detail string) *ToolError {
	return &ToolError{Code: CodeInvalidArgument, Detail: detail, Next: "Fix the argument named in the detail and call the tool again."}
}

// advice is the next step for each error code.
var advice = map[string]string{
	api.CodeWaiting:            "The key is leased by someone else (or no message arrived in time). Call again later, or pass block_seconds / wait_seconds to wait for it.",
	api.CodeLeaseRequired:      "Your lease is gone (expired or released): what you staged under it is lost. Acquire the key again with lock_acquire, re-read the state and redo the change.",
	api.CodeLeaseExpired:       "Your lease expired: what you staged under it is lost. Acquire the key again with lock_acquire, re-read the state and redo the change; call lock_keepalive before the TTL runs out next time.",
	api.CodeFencingMismatch:    "Another holder took the key over (your fencing token is stale): stop writing. Acquire the key again with lock_acquire and start from the current state.",
	api.CodeVersionConflict:    "The state changed since you read it. Re-read it with state_get and retry with the new version.",
	api.CodeETagMismatch:       "The state changed since you read it. Re-read it with state_get and retry with the new etag.",
	api.CodeCASMismatch:        "A concurrent change won. Re-read the state with state_get and retry.",
	api.CodeTxnMismatch:        "The lease belongs to another transaction. Use the lease_id and txn_id that lock_acquire or txn_begin returned.",
	api.CodeAlreadyExists:      "The key already exists. Drop if_not_exists to take the existing key, or pick another key.",
	api.CodeNotFound:           "Nothing by that name exists. Check the namespace, key, queue, message id or attachment name.",
	api.CodeAttachmentNotFound: "No attachment by that name or id. List them with attachment_list.",
	api.CodeNamespaceForbidden: "You are not allowed to do this in that namespace. Use a namespace your client was granted, or ask an operator to grant it (lockd mcp admin).",
	api.CodeThrottled:          "The server is shedding load. Wait retry_after_seconds and call again.",
	api.CodeUnavailable:        "The server cannot serve this right now. Wait retry_after_seconds and call again.",
	api.CodeShutdownDraining:   "The server is shutting down. Wait a few seconds and call again (another node may answer).",
	api.CodePayloadTooLarge:    "The payload is above the server's limit. Send less, or split it.",
	api.CodeAttachmentTooLarge: "The attachment is above the server's limit. Split it into several attachments.",
	api.CodeDocumentTooLarge:   "The document is above the server's limit. Store large data as an attachment instead.",
	api.CodeQueueDisabled:      "This lockd serves no queues.",
	api.CodeQueryDisabled:      "This lockd serves no queries.",
	api.CodeTxnAborted:         "The transaction rolled back (a participant's lease was lost). Start over with txn_begin.",
	api.CodeTxnPending:         "The transaction's decision is still being applied. Wait a second and call again.",
	api.CodeQueueLeaseMismatch: "The delivery is no longer yours (its visibility ran out and it was redelivered). Dequeue again.",
	api.CodeInternal:           "The server failed. Retry once; if it fails again, report the detail.",
	CodeLeaseNotHeld:           "This MCP session holds no such lease. Use a lease_id from lock_acquire or txn_begin of this session (lock_list shows them); leases end when their session ends.",
	CodeMessageNotHeld:         "This MCP session holds no such delivery. Use a message_id that queue_dequeue returned in this session; dequeue again if it was redelivered.",
	CodeTxnNotHeld:             "This MCP session has no such transaction. Use the txn_id that txn_begin returned.",
	CodeTransferUnknown:        "No open transfer by that id (finished, aborted or idle too long). Start it again.",
	CodeUnauthorized:           "This call needs an OAuth access token with namespace claims. Connect with a client registered by lockd mcp admin.",
	CodeTimeout:                "The call ran out of time. Call again; shorten block_seconds / wait_seconds if you asked to wait.",
	CodeTooManyLeases:          "This session holds too many leases. Release the ones you are done with (lock_release).",
}

// toolError turns any error into a ToolError.
func toolError(err error) *ToolError {
	var te *ToolError
	if errors.As(err, &te) {
		if te.Next == "" {
			te.Next = nextStep(te.Code)
		}
		return te
	}
	var ae *sdk.APIError
	if errors.As(err, &ae) {
		out := &ToolError{Code: ae.Code, Detail: ae.Detail, Next: nextStep(ae.Code),
			CurrentVersion: ae.CurrentVersion, CurrentETag: ae.CurrentETag}
		if out.Code == "" {
			out.Code = "http_" + http3(ae.Status)
		}
		if ae.RetryAfter > 0 {
			out.RetryAfterSeconds = int64(math.Ceil(ae.RetryAfter.Seconds()))
		}
		return out
	}
	switch {
	case errors.Is(err, sdk.ErrSessionClosed):
		return &ToolError{Code: api.CodeLeaseRequired, Detail: err.Error(), Next: advice[api.CodeLeaseRequired]}
	case errors.Is(err, sdk.ErrMessageSettled):
		return &ToolError{Code: CodeMessageNotHeld, Detail: err.Error(), Next: advice[CodeMessageNotHeld]}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &ToolError{Code: CodeTimeout, Detail: err.Error(), Next: advice[CodeTimeout]}
	}
	return &ToolError{Code: api.CodeUnavailable, Detail: err.Error(),
		Next: "lockd could not be reached or answered oddly. Wait a few seconds and call again.", RetryAfterSeconds: 1}
}

func nextStep(code string) string {
	if a, ok := advice[code]; ok {
		return a
	}
	if strings.HasPrefix(code, "invalid_") || strings.HasPrefix(code, "missing_") {
		return "Fix the argument named in the detail and call the tool again."
	}
	return "Read the detail, fix the request and call again."
}

func http3(status int) string {
	const digits = "0123456789"
	if status < 100 || status > 999 {
		return "error"
	}
	return string([]byte{digits[status/100], digits[status/10%10], digits[status%10]})
}

// ToolErrorOf is the ToolError an agent gets for err.
func ToolErrorOf(err error) *ToolError { return toolError(err) }
