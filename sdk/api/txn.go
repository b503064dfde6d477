package api

// Transaction and TC error codes.
const (
	CodeTxnAborted          = "txn_aborted"
	CodeTxnNotFound         = "txn_not_found"
	CodeTxnPending          = "txn_pending"
	CodeMissingTxnID        = "missing_txn_id"
	CodeInvalidTxnID        = "invalid_txn_id"
	CodeInvalidState        = "invalid_state"
	CodeTCTermStale         = "tc_term_stale"
	CodeTCUnavailable       = "tc_unavailable"
	CodeMissingCandidateID  = "missing_candidate_id"
	CodeMissingEndpoint     = "missing_endpoint"
	CodeMissingBackendHash  = "missing_backend_hash"
	CodeInvalidBackendHash  = "invalid_backend_hash"
	CodeInvalidParticipant  = "invalid_participant"
	CodeMissingLeaderID     = "missing_leader_id"
	CodeMissingSelfEndpoint = "missing_self_endpoint"
	CodeInvalidSelfEndpoint = "invalid_self_endpoint"
	CodeInvalidEndpoint     = "invalid_endpoint"
	CodeQueueLeaseMismatch  = "queue_message_lease_mismatch"
	// CodeTxnFanoutFailed (502): the decision is durable but not
	// every participant has applied it yet; the coordinator retries.
	CodeTxnFanoutFailed = "txn_fanout_failed"
	// CodeTxnInDoubt (409): the participant voted yes to another island's
	// coordinator; only that coordinator's decision (or an operator's
	// `lockd txn commit|rollback --apply`) settles it.
	CodeTxnInDoubt = "txn_in_doubt"
)
