// Code generated from lockd-v0.9-swagger.json by a one-off script; edit by hand from now on.

package api

import "encoding/json"

// AckRequest is the body of POST /v1/queue/ack.
type AckRequest struct {
	FencingToken      int64  `json:"fencing_token,omitempty"`
	LeaseID           string `json:"lease_id,omitempty"`
	MessageID         string `json:"message_id,omitempty"`
	MetaETag          string `json:"meta_etag,omitempty"`
	Namespace         string `json:"namespace,omitempty"`
	Queue             string `json:"queue,omitempty"`
	StateETag         string `json:"state_etag,omitempty"`
	StateFencingToken int64  `json:"state_fencing_token,omitempty"`
	StateLeaseID      string `json:"state_lease_id,omitempty"`
	TxnID             string `json:"txn_id,omitempty"`
}

// AckResponse is the 200 response of POST /v1/queue/ack.
type AckResponse struct {
	Acked         bool   `json:"acked"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// AcquireRequest is the body of POST /v1/acquire.
type AcquireRequest struct {
	BlockSeconds int64  `json:"block_seconds,omitempty"`
	IfNotExists  bool   `json:"if_not_exists,omitempty"`
	Key          string `json:"key,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
	Owner        string `json:"owner,omitempty"`
	TTLSeconds   int64  `json:"ttl_seconds,omitempty"`
	TxnID        string `json:"txn_id,omitempty"`
}

// AcquireResponse is the 200 response of POST /v1/acquire.
type AcquireResponse struct {
	CorrelationID     string `json:"correlation_id,omitempty"`
	ExpiresAtUnix     int64  `json:"expires_at_unix"`
	FencingToken      int64  `json:"fencing_token"`
	Key               string `json:"key"`
	LeaseID           string `json:"lease_id"`
	Namespace         string `json:"namespace"`
	Owner             string `json:"owner"`
	RetryAfterSeconds int64  `json:"retry_after_seconds,omitempty"`
	StateETag         string `json:"state_etag,omitempty"`
	TxnID             string `json:"txn_id"`
	Version           int64  `json:"version"`
}

// AttachmentInfo is a wire object of the lockd v0.9 API.
type AttachmentInfo struct {
	ContentType     string `json:"content_type,omitempty"`
	CreatedAtUnix   int64  `json:"created_at_unix,omitempty"`
	ID              string `json:"id,omitempty"`
	Name            string `json:"name,omitempty"`
	PlaintextSHA256 string `json:"plaintext_sha256,omitempty"`
	Size            int64  `json:"size,omitempty"`
	UpdatedAtUnix   int64  `json:"updated_at_unix,omitempty"`
}

// AttachmentListResponse is the 200 response of GET /v1/attachments; the 200 response of POST /v1/attachments; the 200 response of DELETE /v1/attachments.
type AttachmentListResponse struct {
	Attachments []AttachmentInfo `json:"attachments"`
	Key         string           `json:"key"`
	Namespace   string           `json:"namespace"`
}

// DequeueRequest is the body of POST /v1/queue/dequeue; the body of POST /v1/queue/dequeueWithState; the body of POST /v1/queue/subscribe.
type DequeueRequest struct {
	Namespace                string `json:"namespace,omitempty"`
	Owner                    string `json:"owner,omitempty"`
	PageSize                 int64  `json:"page_size,omitempty"`
	Queue                    string `json:"queue,omitempty"`
	StartAfter               string `json:"start_after,omitempty"`
	TxnID                    string `json:"txn_id,omitempty"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds,omitempty"`
	WaitSeconds              int64  `json:"wait_seconds,omitempty"`
}

// DequeueResponse is the 200 response of POST /v1/queue/dequeue.
type DequeueResponse struct {
	Message    Message `json:"message,omitempty"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// DescribeResponse is the 200 response of GET /v1/describe.
type DescribeResponse struct {
	ExpiresAtUnix int64              `json:"expires_at_unix,omitempty"`
	Key           string             `json:"key"`
	LeaseID       string             `json:"lease_id,omitempty"`
	Metadata      MetadataAttributes `json:"metadata"`
	Namespace     string             `json:"namespace"`
	Owner         string             `json:"owner,omitempty"`
	StateETag     string             `json:"state_etag,omitempty"`
	UpdatedAtUnix int64              `json:"updated_at_unix,omitempty"`
	Version       int64              `json:"version"`
}

// EnqueueResponse is the 200 response of POST /v1/queue/enqueue.
type EnqueueResponse struct {
	Attempts                 int64  `json:"attempts"`
	CorrelationID            string `json:"correlation_id,omitempty"`
	FailureAttempts          int64  `json:"failure_attempts"`
	MaxAttempts              int64  `json:"max_attempts"`
	MessageID                string `json:"message_id"`
	Namespace                string `json:"namespace"`
	NotVisibleUntilUnix      int64  `json:"not_visible_until_unix,omitempty"`
	PayloadBytes             int64  `json:"payload_bytes"`
	Queue                    string `json:"queue"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds,omitempty"`
}

// ErrorResponse is a wire object of the lockd v0.9 API.
type ErrorResponse struct {
	CurrentETag       string `json:"current_etag,omitempty"`
	CurrentVersion    int64  `json:"current_version,omitempty"`
	Detail            string `json:"detail,omitempty"`
	Error             string `json:"error"`
	LeaderEndpoint    string `json:"leader_endpoint,omitempty"`
	RetryAfterSeconds int64  `json:"retry_after_seconds,omitempty"`
}

// ExtendRequest is the body of POST /v1/queue/extend.
type ExtendRequest struct {
	ExtendBySeconds   int64  `json:"extend_by_seconds,omitempty"`
	FencingToken      int64  `json:"fencing_token,omitempty"`
	LeaseID           string `json:"lease_id,omitempty"`
	MessageID         string `json:"message_id,omitempty"`
	MetaETag          string `json:"meta_etag,omitempty"`
	Namespace         string `json:"namespace,omitempty"`
	Queue             string `json:"queue,omitempty"`
	StateFencingToken int64  `json:"state_fencing_token,omitempty"`
	StateLeaseID      string `json:"state_lease_id,omitempty"`
	TxnID             string `json:"txn_id,omitempty"`
}

// ExtendResponse is the 200 response of POST /v1/queue/extend.
type ExtendResponse struct {
	CorrelationID            string `json:"correlation_id,omitempty"`
	LeaseExpiresAtUnix       int64  `json:"lease_expires_at_unix,omitempty"`
	MetaETag                 string `json:"meta_etag,omitempty"`
	StateLeaseExpiresAtUnix  int64  `json:"state_lease_expires_at_unix,omitempty"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds,omitempty"`
}

// IndexFlushRequest is the body of POST /v1/index/flush.
type IndexFlushRequest struct {
	Mode      string `json:"mode,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// IndexFlushResponse is the 200 response of POST /v1/index/flush; the 202 response of POST /v1/index/flush.
type IndexFlushResponse struct {
	Accepted  bool   `json:"accepted,omitempty"`
	FlushID   string `json:"flush_id,omitempty"`
	Flushed   bool   `json:"flushed"`
	IndexSeq  int64  `json:"index_seq"`
	Mode      string `json:"mode,omitempty"`
	Namespace string `json:"namespace"`
	Pending   bool   `json:"pending,omitempty"`
}

// KeepAliveRequest is the body of POST /v1/keepalive.
type KeepAliveRequest struct {
	Key        string `json:"key,omitempty"`
	LeaseID    string `json:"lease_id,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	TxnID      string `json:"txn_id,omitempty"`
}

// KeepAliveResponse is the 200 response of POST /v1/keepalive.
type KeepAliveResponse struct {
	ExpiresAtUnix int64 `json:"expires_at_unix"`
}

// Message is a wire object of the lockd v0.9 API.
type Message struct {
	Attempts                 int64          `json:"attempts"`
	Attributes               map[string]any `json:"attributes,omitempty"`
	CorrelationID            string         `json:"correlation_id,omitempty"`
	FailureAttempts          int64          `json:"failure_attempts"`
	FencingToken             int64          `json:"fencing_token"`
	LeaseExpiresAtUnix       int64          `json:"lease_expires_at_unix,omitempty"`
	LeaseID                  string         `json:"lease_id"`
	MaxAttempts              int64          `json:"max_attempts"`
	MessageID                string         `json:"message_id"`
	MetaETag                 string         `json:"meta_etag,omitempty"`
	Namespace                string         `json:"namespace"`
	NotVisibleUntilUnix      int64          `json:"not_visible_until_unix,omitempty"`
	PayloadBytes             int64          `json:"payload_bytes"`
	PayloadContentType       string         `json:"payload_content_type,omitempty"`
	Queue                    string         `json:"queue"`
	StateETag                string         `json:"state_etag,omitempty"`
	StateFencingToken        int64          `json:"state_fencing_token,omitempty"`
	StateLeaseExpiresAtUnix  int64          `json:"state_lease_expires_at_unix,omitempty"`
	StateLeaseID             string         `json:"state_lease_id,omitempty"`
	StateTxnID               string         `json:"state_txn_id,omitempty"`
	TxnID                    string         `json:"txn_id"`
	VisibilityTimeoutSeconds int64          `json:"visibility_timeout_seconds,omitempty"`
}

// MetadataAttributes is a wire object of the lockd v0.9 API.
type MetadataAttributes struct {
	QueryHidden bool `json:"query_hidden,omitempty"`
}

// MetadataUpdateResponse is the 200 response of POST /v1/metadata.
type MetadataUpdateResponse struct {
	Key       string             `json:"key"`
	Metadata  MetadataAttributes `json:"metadata"`
	Namespace string             `json:"namespace"`
	Version   int64              `json:"version"`
}

// MutateRequest is the body of POST /v1/mutate.
type MutateRequest struct {
	Mutations []string `json:"mutations,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
}

// NackIntent is a wire object of the lockd v0.9 API.
type NackIntent string

// Nack intents.
const (
	// NackIntentFailure counts toward max_attempts.
	NackIntentFailure NackIntent = "failure"
	// NackIntentDefer returns the message without counting an attempt.
	NackIntentDefer NackIntent = "defer"
)

// NackRequest is the body of POST /v1/queue/nack.
type NackRequest struct {
	DelaySeconds      int64           `json:"delay_seconds,omitempty"`
	FencingToken      int64           `json:"fencing_token,omitempty"`
	Intent            NackIntent      `json:"intent,omitempty"`
	LastError         json.RawMessage `json:"last_error,omitempty"`
	LeaseID           string          `json:"lease_id,omitempty"`
	MessageID         string          `json:"message_id,omitempty"`
	MetaETag          string          `json:"meta_etag,omitempty"`
	Namespace         string          `json:"namespace,omitempty"`
	Queue             string          `json:"queue,omitempty"`
	StateETag         string          `json:"state_etag,omitempty"`
	StateFencingToken int64           `json:"state_fencing_token,omitempty"`
	StateLeaseID      string          `json:"state_lease_id,omitempty"`
	TxnID             string          `json:"txn_id,omitempty"`
}

// NackResponse is the 200 response of POST /v1/queue/nack.
type NackResponse struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	MetaETag      string `json:"meta_etag,omitempty"`
	Requeued      bool   `json:"requeued"`
	// DeadLettered (lockd extension) reports that this failure exhausted
	// max_attempts and moved the message to the queue's DLQ.
	DeadLettered bool `json:"dead_lettered,omitempty"`
}

// NamespaceConfigRequest is the body of POST /v1/namespace.
type NamespaceConfigRequest struct {
	Namespace string               `json:"namespace,omitempty"`
	Query     NamespaceQueryConfig `json:"query,omitempty"`
}

// NamespaceConfigResponse is the 200 response of GET /v1/namespace; the 200 response of POST /v1/namespace.
type NamespaceConfigResponse struct {
	Namespace string               `json:"namespace"`
	Query     NamespaceQueryConfig `json:"query,omitempty"`
}

// NamespaceQueryConfig is a wire object of the lockd v0.9 API.
type NamespaceQueryConfig struct {
	FallbackEngine  string `json:"fallback_engine,omitempty"`
	PreferredEngine string `json:"preferred_engine,omitempty"`
}

// QueryRequest is the body of POST /v1/query.
type QueryRequest struct {
	Cursor    string         `json:"cursor,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
	Limit     int64          `json:"limit,omitempty"`
	Namespace string         `json:"namespace,omitempty"`
	Return    QueryReturn    `json:"return,omitempty"`
	Selector  map[string]any `json:"selector,omitempty"`
}

// QueryResponse is a wire object of the lockd v0.9 API.
type QueryResponse struct {
	Cursor    string            `json:"cursor,omitempty"`
	IndexSeq  int64             `json:"index_seq"`
	Keys      []string          `json:"keys"`
	Metadata  map[string]string `json:"metadata"`
	Namespace string            `json:"namespace"`
}

// QueryReturn is a wire object of the lockd v0.9 API.
type QueryReturn string

// Query return modes.
const (
	QueryReturnKeys      QueryReturn = "keys"
	QueryReturnDocuments QueryReturn = "documents"
)

// QueueStatsRequest is the body of POST /v1/queue/stats.
type QueueStatsRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Queue     string `json:"queue,omitempty"`
}

// QueueStatsResponse is the 200 response of POST /v1/queue/stats.
type QueueStatsResponse struct {
	Available               bool   `json:"available"`
	CorrelationID           string `json:"correlation_id,omitempty"`
	HasActiveWatcher        bool   `json:"has_active_watcher"`
	HeadAgeSeconds          int64  `json:"head_age_seconds,omitempty"`
	HeadEnqueuedAtUnix      int64  `json:"head_enqueued_at_unix,omitempty"`
	HeadMessageID           string `json:"head_message_id,omitempty"`
	HeadNotVisibleUntilUnix int64  `json:"head_not_visible_until_unix,omitempty"`
	Namespace               string `json:"namespace"`
	PendingCandidates       int64  `json:"pending_candidates"`
	Queue                   string `json:"queue"`
	TotalConsumers          int64  `json:"total_consumers"`
	WaitingConsumers        int64  `json:"waiting_consumers"`
	// Lockd extensions: counts by state, standing subscriptions and the
	// size of the queue's dead-letter queue.
	Ready       int64 `json:"ready"`
	Delayed     int64 `json:"delayed"`
	InFlight    int64 `json:"in_flight"`
	Subscribers int64 `json:"subscribers"`
	DeadLetters int64 `json:"dead_letters"`
}

// QueueWatchRequest is the body of POST /v1/queue/watch.
type QueueWatchRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Queue     string `json:"queue,omitempty"`
}

// ReleaseRequest is the body of POST /v1/release.
type ReleaseRequest struct {
	Key       string `json:"key,omitempty"`
	LeaseID   string `json:"lease_id,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Rollback  bool   `json:"rollback,omitempty"`
	TxnID     string `json:"txn_id,omitempty"`
}

// ReleaseResponse is the 200 response of POST /v1/release.
type ReleaseResponse struct {
	Released bool `json:"released"`
}

// RemoveResponse is the 200 response of POST /v1/remove.
type RemoveResponse struct {
	NewVersion int64 `json:"new_version"`
	Removed    bool  `json:"removed"`
}

// TCClusterAnnounceRequest is the body of POST /v1/tc/cluster/announce.
type TCClusterAnnounceRequest struct {
	SelfEndpoint string `json:"self_endpoint,omitempty"`
}

// TCClusterAnnounceResponse is the 200 response of POST /v1/tc/cluster/announce.
type TCClusterAnnounceResponse struct {
	Endpoints     []string `json:"endpoints,omitempty"`
	ExpiresAtUnix int64    `json:"expires_at_unix"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TCClusterLeaveRequest is the body of POST /v1/tc/cluster/leave. lockd
// v0.9 sends it empty and names the member by its certificate; this
// server also reads SelfEndpoint, the member's announced endpoint.
type TCClusterLeaveRequest struct {
	SelfEndpoint string `json:"self_endpoint,omitempty"`
}

// TCClusterLeaveResponse is the 200 response of POST /v1/tc/cluster/leave.
type TCClusterLeaveResponse struct {
	Endpoints     []string `json:"endpoints,omitempty"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TCClusterListResponse is the 200 response of GET /v1/tc/cluster/list.
type TCClusterListResponse struct {
	Endpoints     []string `json:"endpoints,omitempty"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TCLeaderResponse is the 200 response of GET /v1/tc/leader.
type TCLeaderResponse struct {
	ExpiresAt      int64  `json:"expires_at,omitempty"`
	LeaderEndpoint string `json:"leader_endpoint,omitempty"`
	LeaderID       string `json:"leader_id"`
	Term           int64  `json:"term"`
}

// TCLeaseAcquireRequest is the body of POST /v1/tc/lease/acquire.
type TCLeaseAcquireRequest struct {
	CandidateEndpoint string `json:"candidate_endpoint,omitempty"`
	CandidateID       string `json:"candidate_id,omitempty"`
	Term              int64  `json:"term,omitempty"`
	TTLMs             int64  `json:"ttl_ms,omitempty"`
}

// TCLeaseAcquireResponse is the 200 response of POST /v1/tc/lease/acquire.
type TCLeaseAcquireResponse struct {
	ExpiresAt      int64  `json:"expires_at,omitempty"`
	Granted        bool   `json:"granted"`
	LeaderEndpoint string `json:"leader_endpoint,omitempty"`
	LeaderID       string `json:"leader_id"`
	Term           int64  `json:"term"`
}

// TCLeaseReleaseRequest is the body of POST /v1/tc/lease/release.
type TCLeaseReleaseRequest struct {
	LeaderID string `json:"leader_id,omitempty"`
	Term     int64  `json:"term,omitempty"`
}

// TCLeaseReleaseResponse is the 200 response of POST /v1/tc/lease/release.
type TCLeaseReleaseResponse struct {
	Released bool `json:"released"`
}

// TCLeaseRenewRequest is the body of POST /v1/tc/lease/renew.
type TCLeaseRenewRequest struct {
	LeaderID string `json:"leader_id,omitempty"`
	Term     int64  `json:"term,omitempty"`
	TTLMs    int64  `json:"ttl_ms,omitempty"`
}

// TCLeaseRenewResponse is the 200 response of POST /v1/tc/lease/renew.
type TCLeaseRenewResponse struct {
	ExpiresAt      int64  `json:"expires_at,omitempty"`
	LeaderEndpoint string `json:"leader_endpoint,omitempty"`
	LeaderID       string `json:"leader_id"`
	Renewed        bool   `json:"renewed,omitempty"`
	Term           int64  `json:"term"`
}

// TCRMBackend is a wire object of the lockd v0.9 API.
type TCRMBackend struct {
	BackendHash   string   `json:"backend_hash,omitempty"`
	Endpoints     []string `json:"endpoints,omitempty"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TCRMListResponse is the 200 response of GET /v1/tc/rm/list.
type TCRMListResponse struct {
	Backends      []TCRMBackend `json:"backends"`
	UpdatedAtUnix int64         `json:"updated_at_unix,omitempty"`
}

// TCRMRegisterRequest is the body of POST /v1/tc/rm/register.
type TCRMRegisterRequest struct {
	BackendHash string `json:"backend_hash,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
}

// TCRMRegisterResponse is the 200 response of POST /v1/tc/rm/register.
type TCRMRegisterResponse struct {
	BackendHash   string   `json:"backend_hash,omitempty"`
	Endpoints     []string `json:"endpoints,omitempty"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TCRMUnregisterRequest is the body of POST /v1/tc/rm/unregister.
type TCRMUnregisterRequest struct {
	BackendHash string `json:"backend_hash,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
}

// TCRMUnregisterResponse is the 200 response of POST /v1/tc/rm/unregister.
type TCRMUnregisterResponse struct {
	BackendHash   string   `json:"backend_hash,omitempty"`
	Endpoints     []string `json:"endpoints,omitempty"`
	UpdatedAtUnix int64    `json:"updated_at_unix,omitempty"`
}

// TxnDecisionRequest is the body of POST /v1/txn/commit; the body of POST /v1/txn/decide; the body of POST /v1/txn/rollback.
type TxnDecisionRequest struct {
	ExpiresAtUnix     int64            `json:"expires_at_unix,omitempty"`
	Participants      []TxnParticipant `json:"participants,omitempty"`
	State             string           `json:"state,omitempty"`
	TargetBackendHash string           `json:"target_backend_hash,omitempty"`
	TCTerm            int64            `json:"tc_term,omitempty"`
	TxnID             string           `json:"txn_id,omitempty"`
}

// TxnDecisionResponse is the 200 response of POST /v1/txn/commit; the 200 response of POST /v1/txn/decide; the 200 response of POST /v1/txn/rollback.
type TxnDecisionResponse struct {
	State string `json:"state"`
	TxnID string `json:"txn_id"`
}

// TxnParticipant is a wire object of the lockd v0.9 API.
type TxnParticipant struct {
	BackendHash string `json:"backend_hash,omitempty"`
	Key         string `json:"key"`
	Namespace   string `json:"namespace"`
}

// TxnReplayRequest is the body of POST /v1/txn/replay.
type TxnReplayRequest struct {
	TxnID string `json:"txn_id,omitempty"`
}

// TxnReplayResponse is the 200 response of POST /v1/txn/replay.
type TxnReplayResponse struct {
	State string `json:"state"`
	TxnID string `json:"txn_id"`
}

// UpdateResponse is the 200 response of POST /v1/mutate; the 200 response of POST /v1/update.
type UpdateResponse struct {
	Bytes        int64              `json:"bytes"`
	Metadata     MetadataAttributes `json:"metadata"`
	NewStateETag string             `json:"new_state_etag,omitempty"`
	NewVersion   int64              `json:"new_version"`
}

// MetadataMutation is the body of POST /v1/metadata.
type MetadataMutation struct {
	QueryHidden *bool `json:"query_hidden,omitempty"`
}
