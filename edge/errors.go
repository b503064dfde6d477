package edge

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/store"
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
	// cause is logged, never sent (5xx answers of the edge itself).
	cause  error
	leader string // leader_endpoint (node_passive)
}

func (e *httpError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.detail + ": " + e.cause.Error()
	}
	return e.code + ": " + e.detail
}

// Unwrap returns the cause, if any.
func (e *httpError) Unwrap() error { return e.cause }

// internalError is a 500 whose cause stays in the server's log.
func internalError(detail string, cause error) *httpError {
	return &httpError{status: 500, code: api.CodeInternal, detail: detail, cause: cause}
}

func fail(status int, code, detail string) *httpError {
	return &httpError{status: status, code: code, detail: detail}
}

func badRequest(code, detail string) *httpError { return fail(400, code, detail) }

// domainErrors maps domain sentinels to status and code; the first match
// wins, so more specific errors come first. A 5xx entry carries its own
// detail: the error's text names store keys and causes, which stay in the
// server log.
var domainErrors = []struct {
	err        error
	status     int
	code       string
	detail     string        // required for 5xx; "" = the error's text
	retryAfter time.Duration // sent as Retry-After when > 0
}{
	// Corruption wins over whatever wraps it: retrying cannot help.
	{err: store.ErrCorrupt, status: 500, code: api.CodeInternal, detail: detailCorrupt},
	{err: store.ErrClosed, status: 503, code: api.CodeUnavailable, detail: "storage is closed: the server is shutting down", retryAfter: time.Second},
	// An aborted commit wraps the cause that aborted it (a participant's
	// lease error): the caller learns that its transaction rolled back.
	{err: keyspace.ErrAborted, status: 409, code: api.CodeTxnAborted},
	{err: txn.ErrAborted, status: 409, code: api.CodeTxnAborted},
	// A durable decision not yet applied everywhere wraps the
	// participants' errors: it is neither theirs nor a lost decision.
	{err: txn.ErrFanout, status: 502, code: api.CodeTxnFanoutFailed, detail: "decision recorded; not every participant has applied it yet, the coordinator retries (replay finishes it)"},
	{err: keyspace.ErrLeaseRequired, status: 403, code: api.CodeLeaseRequired},
	{err: keyspace.ErrLeaseExpired, status: 403, code: api.CodeLeaseExpired},
	{err: keyspace.ErrFencingMismatch, status: 403, code: api.CodeFencingMismatch},
	{err: keyspace.ErrMissingTxn, status: 400, code: api.CodeMissingTxn},
	{err: keyspace.ErrTxnMismatch, status: 409, code: api.CodeTxnMismatch},
	{err: keyspace.ErrInDoubt, status: 409, code: api.CodeTxnInDoubt},
	{err: keyspace.ErrAlreadyExists, status: 409, code: api.CodeAlreadyExists},
	{err: keyspace.ErrVersionConflict, status: 409, code: api.CodeVersionConflict},
	{err: keyspace.ErrETagMismatch, status: 409, code: api.CodeETagMismatch},
	{err: keyspace.ErrWaiting, status: 409, code: api.CodeWaiting},
	{err: keyspace.ErrConflict, status: 409, code: api.CodeCASMismatch},
	{err: keyspace.ErrDraining, status: 503, code: api.CodeShutdownDraining, detail: "server is draining existing leases"},
	{err: keyspace.ErrUnavailable, status: 503, code: api.CodeUnavailable, detail: "key temporarily unavailable; retry"},
	{err: keyspace.ErrMoved, status: 503, code: api.CodeOwnershipMoved, detail: "the key moved to another node; retry"},
	// A transaction's stale delivery wraps the queue error that found it.
	{err: txn.ErrQueueLeaseMismatch, status: 409, code: api.CodeQueueLeaseMismatch},
	{err: queues.ErrNotFound, status: 404, code: api.CodeNotFound},
	// An ack, nack or extend by a delivery that is not the message's
	// current one is 409 queue_message_lease_mismatch (lockd v0.9); an
	// expired current delivery is 403 lease_expired.
	{err: queues.ErrLeaseRequired, status: 409, code: api.CodeQueueLeaseMismatch},
	{err: queues.ErrFencingMismatch, status: 409, code: api.CodeQueueLeaseMismatch},
	{err: queues.ErrTxnMismatch, status: 409, code: api.CodeQueueLeaseMismatch},
	{err: queues.ErrLeaseExpired, status: 403, code: api.CodeLeaseExpired},
	{err: queues.ErrMetaChanged, status: 409, code: api.CodeCASMismatch},
	{err: queues.ErrEmpty, status: 409, code: api.CodeWaiting},
	{err: queues.ErrStateBusy, status: 409, code: api.CodeWaiting},
	{err: queues.ErrReadOnly, status: 400, code: api.CodeInvalidQueue},
	{err: queues.ErrNoState, status: 501, code: api.CodeQueueDisabled, detail: "workflow state is not configured on this server"},
	{err: queues.ErrConflict, status: 409, code: api.CodeCASMismatch},
	{err: queues.ErrUnavailable, status: 503, code: api.CodeUnavailable, detail: "queue temporarily unavailable; retry"},
	{err: queues.ErrMoved, status: 503, code: api.CodeOwnershipMoved, detail: "the queue moved to another node; retry"},
	{err: keyspace.ErrAttachmentTooLarge, status: 413, code: api.CodeAttachmentTooLarge},
	{err: keyspace.ErrAttachmentNotFound, status: 404, code: api.CodeAttachmentNotFound},
	{err: keyspace.ErrExpectedSHA256, status: 409, code: api.CodeExpectedSHAMismatch},
	{err: keyspace.ErrExpectedBytes, status: 409, code: api.CodeExpectedLenMismatch},
	{err: keyspace.ErrInvalidAttachmentName, status: 400, code: api.CodeInvalidAttachmentName},
	{err: txn.ErrNotFound, status: 404, code: api.CodeTxnNotFound},
	{err: txn.ErrDecided, status: 409, code: api.CodeTxnMismatch},
	{err: txn.ErrPending, status: 409, code: api.CodeTxnPending},
	{err: txn.ErrStaleTerm, status: 409, code: api.CodeTCTermStale},
	{err: txn.ErrInvalidState, status: 400, code: api.CodeInvalidState},
	{err: txn.ErrMissingCandidate, status: 400, code: api.CodeMissingCandidateID},
	{err: txn.ErrMissingEndpoint, status: 400, code: api.CodeMissingEndpoint},
	{err: txn.ErrMissingHash, status: 400, code: api.CodeMissingBackendHash},
	{err: txn.ErrUnknownParticipant, status: 400, code: api.CodeInvalidParticipant},
	{err: txn.ErrUnavailable, status: 503, code: api.CodeTCUnavailable, detail: "transaction coordinator temporarily unavailable; retry"},
	{err: names.ErrReserved, status: 400, code: api.CodeInvalidNamespace},
	{err: index.ErrInvalidCursor, status: 400, code: api.CodeInvalidCursor},
	{err: index.ErrEngineUnavailable, status: 400, code: api.CodeQueryEngineUnavailable},
	{err: index.ErrInvalidConfig, status: 400, code: api.CodeInvalidNamespaceRequest},
	{err: index.ErrConfigConflict, status: 409, code: api.CodeNamespaceConfigConflict},
	{err: index.ErrFlushBusy, status: 409, code: api.CodeIndexFlushBusy},
	{err: index.ErrDocumentTooLarge, status: 413, code: api.CodeDocumentTooLarge},
	{err: index.ErrClosed, status: 503, code: api.CodeUnavailable, detail: "index is closed: the server is shutting down"},
	{err: index.ErrUnavailable, status: 503, code: api.CodeUnavailable, detail: "index temporarily unavailable; retry"},
	// A request that ran out of time answers like lockd v0.9: 409 waiting,
	// retry in a second.
	{err: context.DeadlineExceeded, status: 409, code: api.CodeWaiting, detail: "request deadline exceeded; retry", retryAfter: time.Second},
	{err: context.Canceled, status: 503, code: api.CodeUnavailable, detail: "request cancelled: the server is shutting down"},
}

// detailCorrupt is the client's view of a corrupt record: which record, and
// why, is in the server's log under the request's correlation id.
const detailCorrupt = "a stored record is corrupt; the server logged it under this request's correlation id"

// toHTTP classifies err; unknown errors are 500 internal_error. The detail
// of a 5xx never carries err's text (store keys, paths, causes).
func toHTTP(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	out := &httpError{status: 500, code: api.CodeInternal, detail: "internal server error"}
	for _, m := range domainErrors {
		if errors.Is(err, m.err) {
			out = &httpError{status: m.status, code: m.code, detail: m.detail, retryAfter: m.retryAfter}
			if out.detail == "" {
				out.detail = err.Error()
			}
			break
		}
	}
	var de *domainerr.Error
	if errors.As(err, &de) && !errors.Is(err, store.ErrCorrupt) {
		if de.Detail != "" {
			out.detail = de.Detail
		}
		out.version, out.etag = de.CurrentVersion, de.CurrentETag
		if de.RetryAfter > 0 {
			out.retryAfter = de.RetryAfter
		}
	}
	return out
}

// corruptRecords counts requests that met a corrupt stored record.
var corruptRecords = metrics.NewCounter("lockd_corrupt_records_total")

// logFailure logs a 5xx with its full cause; a corrupt record is logged
// loudly, as it needs an operator.
func (s *Server) logFailure(ctx context.Context, route, cid string, err error, he *httpError) {
	switch {
	case errors.Is(err, store.ErrCorrupt):
		corruptRecords.Inc()
		s.log.Error().Ctx(ctx).Err(err).Str("route", route).Str("correlation_id", cid).Bool("corrupt", true).
			Msg("CORRUPT STORED RECORD: the request failed and will fail again until the record is repaired or removed")
	case he.status >= 500:
		s.log.Error().Ctx(ctx).Err(err).Str("route", route).Str("correlation_id", cid).Msg("request failed")
	}
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
