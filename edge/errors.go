package edge

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/txn"
)

// httpError is an error with its HTTP status and API error code.
type httpError struct {
	status     int
	code       string
	detail     string
	retryAfter time.Duration
	version    int64
	etag       string
	leader     string // leader_endpoint (node_passive)
}

func (e *httpError) Error() string { return e.code + ": " + e.detail }

func fail(status int, code, detail string) *httpError {
	return &httpError{status: status, code: code, detail: detail}
}

func badRequest(code, detail string) *httpError { return fail(400, code, detail) }

// domainErrors maps domain sentinels to status and code; the first match
// wins, so more specific errors come first.
var domainErrors = []struct {
	err    error
	status int
	code   string
}{
	{keyspace.ErrLeaseRequired, 403, api.CodeLeaseRequired},
	{keyspace.ErrLeaseExpired, 403, api.CodeLeaseExpired},
	{keyspace.ErrFencingMismatch, 403, api.CodeFencingMismatch},
	{keyspace.ErrMissingTxn, 400, api.CodeMissingTxn},
	{keyspace.ErrTxnMismatch, 409, api.CodeTxnMismatch},
	{keyspace.ErrAlreadyExists, 409, api.CodeAlreadyExists},
	{keyspace.ErrVersionConflict, 409, api.CodeVersionConflict},
	{keyspace.ErrETagMismatch, 409, api.CodeETagMismatch},
	{keyspace.ErrWaiting, 409, api.CodeWaiting},
	{keyspace.ErrConflict, 409, api.CodeCASMismatch},
	{keyspace.ErrDraining, 503, api.CodeShutdownDraining},
	{keyspace.ErrUnavailable, 503, api.CodeUnavailable},
	{queues.ErrNotFound, 404, api.CodeNotFound},
	{queues.ErrLeaseRequired, 403, api.CodeLeaseRequired},
	{queues.ErrLeaseExpired, 403, api.CodeLeaseExpired},
	{queues.ErrFencingMismatch, 403, api.CodeFencingMismatch},
	{queues.ErrTxnMismatch, 409, api.CodeTxnMismatch},
	{queues.ErrMetaChanged, 409, api.CodeCASMismatch},
	{queues.ErrEmpty, 409, api.CodeWaiting},
	{queues.ErrStateBusy, 409, api.CodeWaiting},
	{queues.ErrReadOnly, 400, api.CodeInvalidQueue},
	{queues.ErrNoState, 501, api.CodeQueueDisabled},
	{queues.ErrConflict, 409, api.CodeCASMismatch},
	{queues.ErrUnavailable, 503, api.CodeUnavailable},
	{keyspace.ErrAttachmentTooLarge, 413, api.CodeAttachmentTooLarge},
	{keyspace.ErrAttachmentNotFound, 404, api.CodeAttachmentNotFound},
	{keyspace.ErrExpectedSHA256, 409, api.CodeExpectedSHAMismatch},
	{keyspace.ErrExpectedBytes, 409, api.CodeExpectedLenMismatch},
	{keyspace.ErrInvalidAttachmentName, 400, api.CodeInvalidAttachmentName},
	{txn.ErrQueueLeaseMismatch, 409, api.CodeQueueLeaseMismatch},
	{keyspace.ErrAborted, 409, api.CodeTxnAborted},
	{txn.ErrAborted, 409, api.CodeTxnAborted},
	{txn.ErrNotFound, 404, api.CodeTxnNotFound},
	{txn.ErrDecided, 409, api.CodeTxnMismatch},
	{txn.ErrPending, 409, api.CodeTxnPending},
	{txn.ErrStaleTerm, 409, api.CodeTCTermStale},
	{txn.ErrInvalidState, 400, api.CodeInvalidState},
	{txn.ErrMissingCandidate, 400, api.CodeMissingCandidateID},
	{txn.ErrMissingEndpoint, 400, api.CodeMissingEndpoint},
	{txn.ErrMissingHash, 400, api.CodeMissingBackendHash},
	{txn.ErrUnknownParticipant, 400, api.CodeInvalidParticipant},
	{txn.ErrUnavailable, 503, api.CodeTCUnavailable},
	{names.ErrReserved, 400, api.CodeInvalidNamespace},
	{index.ErrInvalidCursor, 400, api.CodeInvalidCursor},
	{index.ErrEngineUnavailable, 400, api.CodeQueryEngineUnavailable},
	{index.ErrInvalidConfig, 400, api.CodeInvalidNamespaceRequest},
	{index.ErrConfigConflict, 409, api.CodeNamespaceConfigConflict},
	{index.ErrFlushBusy, 409, api.CodeIndexFlushBusy},
	{index.ErrDocumentTooLarge, 413, api.CodeDocumentTooLarge},
	{index.ErrClosed, 503, api.CodeUnavailable},
	{index.ErrUnavailable, 503, api.CodeUnavailable},
	{context.DeadlineExceeded, 503, api.CodeUnavailable},
	{context.Canceled, 503, api.CodeUnavailable},
}

// toHTTP classifies err; unknown errors are 500 internal_error.
func toHTTP(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	out := &httpError{status: 500, code: api.CodeInternal, detail: "internal server error"}
	for _, m := range domainErrors {
		if errors.Is(err, m.err) {
			out = &httpError{status: m.status, code: m.code, detail: err.Error()}
			break
		}
	}
	var ke *keyspace.Error
	if errors.As(err, &ke) {
		if ke.Detail != "" {
			out.detail = ke.Detail
		}
		out.retryAfter, out.version, out.etag = ke.RetryAfter, ke.CurrentVersion, ke.CurrentETag
	}
	var qe *queues.Error
	if errors.As(err, &qe) {
		if qe.Detail != "" {
			out.detail = qe.Detail
		}
		out.retryAfter = qe.RetryAfter
	}
	return out
}

func writeError(ctx *fasthttp.RequestCtx, he *httpError) {
	o := newObject(nil)
	o.str("error", he.code, false)
	o.str("detail", he.detail, true)
	o.str("leader_endpoint", he.leader, true)
	o.int("current_version", he.version, true)
	o.str("current_etag", he.etag, true)
	if he.retryAfter > 0 {
		secs := int64(math.Ceil(he.retryAfter.Seconds()))
		o.int("retry_after_seconds", secs, false)
		ctx.Response.Header.Set(api.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	}
	writeRaw(ctx, he.status, o.end())
}

// writeRaw sends an already encoded JSON body.
func writeRaw(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"internal_error","detail":"encode response"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}
