package api

import "encoding/json"

// EnqueueRequest is the JSON of the "meta" part of POST /v1/queue/enqueue
// (multipart/form-data or multipart/related with parts "meta" and
// "payload").
type EnqueueRequest struct {
	Namespace                string         `json:"namespace,omitempty"`
	Queue                    string         `json:"queue,omitempty"`
	DelaySeconds             int64          `json:"delay_seconds,omitempty"`
	VisibilityTimeoutSeconds int64          `json:"visibility_timeout_seconds,omitempty"`
	TTLSeconds               int64          `json:"ttl_seconds,omitempty"`
	MaxAttempts              int64          `json:"max_attempts,omitempty"`
	Attributes               map[string]any `json:"attributes,omitempty"`
	PayloadContentType       string         `json:"payload_content_type,omitempty"`
}

// QueueWatchEvent is the data of a "queue_watch" event on the
// text/event-stream of POST /v1/queue/watch.
type QueueWatchEvent struct {
	Namespace     string `json:"namespace"`
	Queue         string `json:"queue"`
	Available     bool   `json:"available"`
	HeadMessageID string `json:"head_message_id,omitempty"`
	ChangedAtUnix int64  `json:"changed_at_unix"`
	// Ready and InFlight extend lockd v0.9's event.
	Ready         int64  `json:"ready"`
	InFlight      int64  `json:"in_flight"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// QueueDLQListRequest is the body of POST /v1/queue/dlq/list (lockd
// extension): a page of the dead letters of Queue, oldest first.
type QueueDLQListRequest struct {
	Namespace  string `json:"namespace,omitempty"`
	Queue      string `json:"queue,omitempty"`
	StartAfter string `json:"start_after,omitempty"`
	Limit      int64  `json:"limit,omitempty"`
}

// QueueDLQMessage is a dead letter: the message's metadata and why it is
// dead.
type QueueDLQMessage struct {
	Message
	EnqueuedAtUnix     int64           `json:"enqueued_at_unix"`
	ExpiresAtUnix      int64           `json:"expires_at_unix,omitempty"`
	LastError          json.RawMessage `json:"last_error,omitempty"`
	DeadLetterReason   string          `json:"dead_letter_reason"`
	DeadLetteredAtUnix int64           `json:"dead_lettered_at_unix"`
}

// QueueDLQListResponse is the 200 response of POST /v1/queue/dlq/list.
type QueueDLQListResponse struct {
	Namespace  string            `json:"namespace"`
	Queue      string            `json:"queue"`
	Messages   []QueueDLQMessage `json:"messages"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// QueueDLQRequeueRequest is the body of POST /v1/queue/dlq/requeue (lockd
// extension): move dead letters back into Queue with a fresh failure
// budget. Give MessageIDs or All.
type QueueDLQRequeueRequest struct {
	Namespace    string   `json:"namespace,omitempty"`
	Queue        string   `json:"queue,omitempty"`
	MessageIDs   []string `json:"message_ids,omitempty"`
	All          bool     `json:"all,omitempty"`
	DelaySeconds int64    `json:"delay_seconds,omitempty"`
}

// QueueDLQRequeueResponse is the 200 response of POST /v1/queue/dlq/requeue.
type QueueDLQRequeueResponse struct {
	Namespace string   `json:"namespace"`
	Queue     string   `json:"queue"`
	Requeued  []string `json:"requeued"`
	// Skipped lists ids that were not dead letters or are being dequeued
	// from the DLQ right now.
	Skipped []string `json:"skipped,omitempty"`
}

// HeaderSubscriptionID names, on the 200 response of
// POST /v1/queue/subscribe(WithState) (lockd extension), the stream for
// POST /v1/queue/unsubscribe. lockd v0.9 clients ignore it.
const HeaderSubscriptionID = "X-Lockd-Subscription-ID"

// QueueUnsubscribeRequest is the body of POST /v1/queue/unsubscribe
// (lockd extension): it ends the subscription stream SubscriptionID of
// Queue gracefully. The server makes the stream no more deliveries, writes
// those it already made and closes the multipart body, so that the client
// can read them all and return them (nack) instead of leaving them leased
// until their visibility timeout.
type QueueUnsubscribeRequest struct {
	Namespace      string `json:"namespace,omitempty"`
	Queue          string `json:"queue"`
	SubscriptionID string `json:"subscription_id"`
}

// QueueUnsubscribeResponse is the 200 response of POST
// /v1/queue/unsubscribe.
type QueueUnsubscribeResponse struct {
	Stopped       bool   `json:"stopped"`
	CorrelationID string `json:"correlation_id,omitempty"`
}
