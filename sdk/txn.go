package sdk

import (
	"context"
	"net/http"

	"github.com/lockdhq/lockd/sdk/api"
)

// Transaction coordinator (TC) calls. Ordinary clients never need them: a
// release (commit, or rollback with Rollback) and a queue ack or nack
// decide the transaction they belong to. They serve TC tooling, recovery
// and tests, and under mTLS they need a TC identity: a bundle from
// `lockd auth new tcclient` or a server bundle (WithBundle); any other
// certificate gets 403 tc_client_required or tc_forbidden (ErrTCForbidden).

// Sentinels of the transaction and TC error codes; errors.Is(err, ErrX)
// holds for an *APIError carrying the code.
var (
	// ErrTxnNotFound: the coordinator has no record of the transaction
	// (txn_not_found, 404).
	ErrTxnNotFound = codeErr("lockd: transaction not found", api.CodeTxnNotFound)
	// ErrTxnAborted: a commit was asked but the transaction rolled back,
	// because a participant could no longer commit (txn_aborted, 409).
	ErrTxnAborted = codeErr("lockd: transaction rolled back", api.CodeTxnAborted)
	// ErrTxnPending: the transaction has no decision yet (txn_pending, 409).
	ErrTxnPending = codeErr("lockd: transaction pending", api.CodeTxnPending)
	// ErrTCTermStale: the decision carries an older tc_term than the
	// node's: it comes from a deposed coordinator (tc_term_stale, 409).
	ErrTCTermStale = codeErr("lockd: stale tc_term", api.CodeTCTermStale)
	// ErrTCUnavailable: the coordinator could not read or write its
	// records, or has no leader now (tc_unavailable, 503; retried).
	ErrTCUnavailable = codeErr("lockd: transaction coordinator unavailable", api.CodeTCUnavailable)
	// ErrTCForbidden: under mTLS the certificate is not a TC or server
	// identity (tc_client_required, tc_forbidden, 403).
	ErrTCForbidden = codeErr("lockd: TC identity required", api.CodeTCClientRequired, api.CodeTCForbidden)
	// ErrTxnFanoutFailed: the decision is recorded durably but not
	// every participant has applied it yet; the coordinator keeps
	// retrying, and TxnReplay finishes it (txn_fanout_failed, 502).
	ErrTxnFanoutFailed = codeErr("lockd: transaction decided, fan-out incomplete", api.CodeTxnFanoutFailed)
)

// Transaction states of TxnDecisionRequest.State and the responses.
const (
	TxnPending  = "pending"
	TxnCommit   = "commit"
	TxnRollback = "rollback"
)

// TxnDecide records a decision for req.TxnID with POST /v1/txn/decide
// (TC-auth): State "pending" records the participants (and
// ExpiresAtUnix) without deciding; "commit" or "rollback" decides and
// applies the decision to every participant. A non-leader node forwards
// the call to the TC leader. The answer carries the recorded state: a
// transaction already decided keeps its decision. A commit that had to
// roll back fails with ErrTxnAborted.
func (c *Client) TxnDecide(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	return c.txnDecision(ctx, "/v1/txn/decide", req)
}

// TxnPrepare records req's participants as a pending transaction
// (TxnDecide with State "pending").
func (c *Client) TxnPrepare(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	req.State = TxnPending
	return c.TxnDecide(ctx, req)
}

// TxnCommit decides commit for req.TxnID and applies it (TxnDecide with
// State "commit"); participants in req are added to the record first.
func (c *Client) TxnCommit(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	req.State = TxnCommit
	return c.TxnDecide(ctx, req)
}

// TxnRollback decides rollback for req.TxnID and applies it (TxnDecide
// with State "rollback").
func (c *Client) TxnRollback(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	req.State = TxnRollback
	return c.TxnDecide(ctx, req)
}

// TxnApplyCommit is the resource-manager side of a commit: POST
// /v1/txn/commit asks the node to apply a commit the coordinator already
// decided, to req.Participants (or, when none are given, to those of the
// node's own record). req.TCTerm fences the call: a node that knows a
// newer term refuses it with ErrTCTermStale. An unknown transaction
// without participants is ErrTxnNotFound; a transaction decided the other
// way is ErrTxnMismatch. The coordinator's fan-out sends exactly this.
func (c *Client) TxnApplyCommit(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	req.State = TxnCommit
	return c.txnDecision(ctx, "/v1/txn/commit", req)
}

// TxnApplyRollback is TxnApplyCommit for a rollback (POST
// /v1/txn/rollback).
func (c *Client) TxnApplyRollback(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	req.State = TxnRollback
	return c.txnDecision(ctx, "/v1/txn/rollback", req)
}

// TxnReplay re-runs the recorded decision of txnID (POST /v1/txn/replay,
// TC-auth with the ALL namespace claim): a decided transaction is applied
// again to every participant (applying is idempotent); a pending one whose
// participants are gone or whose deadline passed rolls back. It returns
// the resulting state; an unknown transaction is ErrTxnNotFound.
func (c *Client) TxnReplay(ctx context.Context, txnID string) (*api.TxnReplayResponse, error) {
	r := newCall(http.MethodPost, "/v1/txn/replay")
	if err := r.jsonBody(api.TxnReplayRequest{TxnID: txnID}); err != nil {
		return nil, err
	}
	var out api.TxnReplayResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) txnDecision(ctx context.Context, path string, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	r := newCall(http.MethodPost, path)
	if err := r.jsonBody(req); err != nil {
		return nil, err
	}
	var out api.TxnDecisionResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
