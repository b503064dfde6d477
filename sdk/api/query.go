package api

// Query, index, namespace and mutate error codes (status noted).
const (
	// 400
	CodeInvalidSelector         = "invalid_selector"
	CodeInvalidFields           = "invalid_fields"
	CodeInvalidEngine           = "invalid_engine"
	CodeInvalidReturn           = "invalid_return"
	CodeInvalidRefresh          = "invalid_refresh"
	CodeInvalidCursor           = "invalid_cursor"
	CodeQueryEngineUnavailable  = "query_engine_unavailable"
	CodeInvalidMode             = "invalid_mode"
	CodeInvalidNamespaceRequest = "invalid_namespace_request"
	CodeInvalidMutations        = "invalid_mutations"
	// 409
	CodeIndexFlushBusy          = "index_flush_busy"
	CodeNamespaceConfigConflict = "namespace_config_conflict"
	// 413
	CodeDocumentTooLarge = "document_too_large"
	// 501
	CodeQueryDisabled              = "query_disabled"
	CodeIndexUnavailable           = "index_unavailable"
	CodeNamespaceConfigUnavailable = "namespace_config_unavailable"
)

// Query response headers; in return=documents mode cursor, index seq and
// metadata are HTTP trailers instead.
const (
	HeaderQueryReturn   = "X-Lockd-Query-Return"
	HeaderQueryCursor   = "X-Lockd-Query-Cursor"
	HeaderQueryIndexSeq = "X-Lockd-Query-Index-Seq"
	HeaderQueryMetadata = "X-Lockd-Query-Metadata"
)

// Mutate response headers (counters of the server-side mutation).
const (
	HeaderMutateCandidatesSeen    = "X-Lockd-Mutate-Candidates-Seen"
	HeaderMutateCandidatesWritten = "X-Lockd-Mutate-Candidates-Written"
	HeaderMutateBytesRead         = "X-Lockd-Mutate-Bytes-Read"
	HeaderMutateBytesWritten      = "X-Lockd-Mutate-Bytes-Written"
	HeaderMutateBytesCaptured     = "X-Lockd-Mutate-Bytes-Captured"
	HeaderMutateSpillCount        = "X-Lockd-Mutate-Spill-Count"
	HeaderMutateSpillBytes        = "X-Lockd-Mutate-Spill-Bytes"
)

// ContentTypeNDJSON is the content type of return=documents.
const ContentTypeNDJSON = "application/x-ndjson"

// QueryRow is one line of a return=documents stream; Doc is the raw JSON
// document.
type QueryRow struct {
	Namespace string `json:"ns"`
	Key       string `json:"key"`
	Version   int64  `json:"ver,omitempty"`
	Doc       any    `json:"doc"`
}
