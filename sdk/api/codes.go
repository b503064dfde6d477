package api

// Error codes carried in ErrorResponse.Error. The HTTP status for each is
// noted; clients should switch on the code, not the status.
const (
	// 400
	CodeInvalidBody         = "invalid_body"
	CodeInvalidNamespace    = "invalid_namespace"
	CodeInvalidKey          = "invalid_key"
	CodeMissingKey          = "missing_key"
	CodeMissingParams       = "missing_params"
	CodeMissingOwner        = "missing_owner"
	CodeMissingLease        = "missing_lease"
	CodeMissingTxn          = "missing_txn"
	CodeInvalidTxn          = "invalid_txn"
	CodeMissingFencingToken = "missing_fencing_token"
	CodeInvalidFencingToken = "invalid_fencing_token"
	CodeInvalidVersion      = "invalid_version"
	CodeInvalidTTL          = "invalid_ttl"
	CodeInvalidMetadata     = "invalid_metadata"
	CodeInvalidExpectedSHA  = "invalid_expected_sha256"
	CodeInvalidExpectedLen  = "invalid_expected_bytes"
	// 400 (queues)
	CodeMissingQueue       = "missing_queue"
	CodeInvalidQueue       = "invalid_queue"
	CodeMissingFields      = "missing_fields"
	CodeMultipartError     = "multipart_error"
	CodeInvalidContentType = "invalid_content_type"
	// CodeInvalidQueueKey: an ack, nack or extend names a queue that
	// cannot exist.
	CodeInvalidQueueKey = "invalid_queue_key"
	// CodeInvalidNackIntent: a nack's intent is not failure or defer.
	CodeInvalidNackIntent = "invalid_nack_intent"
	// 403
	CodeLeaseRequired   = "lease_required"
	CodeLeaseExpired    = "lease_expired"
	CodeFencingMismatch = "fencing_mismatch"
	// CodeQueueStateKeepaliveUnsupported: /v1/keepalive on a queue
	// message's workflow state key (extend the message instead).
	CodeQueueStateKeepaliveUnsupported = "queue_state_keepalive_unsupported"
	// 403 (mTLS: namespace claims, TC identity, revocation)
	CodeNamespaceForbidden     = "namespace_forbidden"
	CodeInvalidNamespaceClaims = "invalid_namespace_claims"
	CodeTCClientRequired       = "tc_client_required"
	CodeTCForbidden            = "tc_forbidden"
	CodeCertificateRevoked     = "certificate_revoked"
	CodeCertificateExpired     = "certificate_expired"
	// 404
	CodeNotFound = "not_found"
	// 405
	CodeMethodNotAllowed = "method_not_allowed"
	// 409
	CodeWaiting             = "waiting"
	CodeAlreadyExists       = "already_exists"
	CodeVersionConflict     = "version_conflict"
	CodeETagMismatch        = "etag_mismatch"
	CodeTxnMismatch         = "txn_mismatch"
	CodeCASMismatch         = "cas_mismatch"
	CodeExpectedSHAMismatch = "expected_sha256_mismatch"
	CodeExpectedLenMismatch = "expected_bytes_mismatch"
	// 413 (state documents over --json-max answer CodeDocumentTooLarge)
	CodePayloadTooLarge = "payload_too_large"
	// 429
	CodeThrottled = "throttled"
	// 500
	CodeInternal = "internal_error"
	// 501
	CodeQueueDisabled = "queue_disabled"
	// 503
	CodeShutdownDraining = "shutdown_draining"
	CodeUnavailable      = "unavailable"
	// CodeNodePassive: an HA failover standby; retry another endpoint.
	CodeNodePassive = "node_passive"
)
