package mcp

import (
	"bytes"
	"context"
	"errors"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// QueueIn names a queue.
type QueueIn struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace of the queue (default: the facade's default namespace)"`
	Queue     string `json:"queue"`
}

// EnqueueOpts are a message's delivery options.
type EnqueueOpts struct {
	ContentType       string         `json:"content_type,omitempty" jsonschema:"payload content type (default application/json for json, text/plain for text, else application/octet-stream)"`
	DelaySeconds      int64          `json:"delay_seconds,omitempty" jsonschema:"keep the message invisible this long"`
	VisibilitySeconds int64          `json:"visibility_timeout_seconds,omitempty" jsonschema:"how long a delivery stays leased before redelivery"`
	TTLSeconds        int64          `json:"ttl_seconds,omitempty" jsonschema:"an undelivered message moves to the dead-letter queue after this"`
	MaxAttempts       int            `json:"max_attempts,omitempty" jsonschema:"failed deliveries before the dead-letter queue"`
	Attributes        map[string]any `json:"attributes,omitempty" jsonschema:"stored with the message and returned on delivery"`
}

func (o EnqueueOpts) sdk(ns string) sdk.EnqueueOptions {
	return sdk.EnqueueOptions{Namespace: ns, Delay: time.Duration(o.DelaySeconds) * time.Second,
		Visibility: time.Duration(o.VisibilitySeconds) * time.Second, TTL: time.Duration(o.TTLSeconds) * time.Second,
		MaxAttempts: o.MaxAttempts, Attributes: o.Attributes, ContentType: o.ContentType}
}

// EnqueueIn is the input of queue_enqueue.
type EnqueueIn struct {
	QueueIn
	JSON any `json:"json,omitempty" jsonschema:"payload as a JSON value (or give text or base64)"`
	DataIn
	EnqueueOpts
}

// EnqueueOut is the output of queue_enqueue.
type EnqueueOut struct {
	Namespace    string `json:"namespace"`
	Queue        string `json:"queue"`
	MessageID    string `json:"message_id"`
	PayloadBytes int64  `json:"payload_bytes"`
	VisibleAt    string `json:"visible_at,omitempty"`
}

func enqueueOut(r *api.EnqueueResponse) EnqueueOut {
	out := EnqueueOut{Namespace: r.Namespace, Queue: r.Queue, MessageID: r.MessageID, PayloadBytes: r.PayloadBytes}
	if r.NotVisibleUntilUnix > 0 {
		out.VisibleAt = unixTime(r.NotVisibleUntilUnix)
	}
	return out
}

// DequeueIn is the input of queue_dequeue.
type DequeueIn struct {
	QueueIn
	Owner             string `json:"owner,omitempty" jsonschema:"consumer name (default: this MCP client)"`
	WaitSeconds       int64  `json:"wait_seconds,omitempty" jsonschema:"how long to wait for a message (0: answer at once; at most 600)"`
	VisibilitySeconds int64  `json:"visibility_timeout_seconds,omitempty" jsonschema:"how long the delivery stays yours before redelivery (default: the message's)"`
	TxnID             string `json:"txn_id,omitempty" jsonschema:"enlist the delivery in a transaction of this session: its commit acks it, its rollback nacks it"`
	Stream            bool   `json:"stream,omitempty" jsonschema:"always return the payload as stream_id"`
}

// DeliveryOut is a dequeued message.
type DeliveryOut struct {
	Found        bool           `json:"found" jsonschema:"false: no message arrived in time"`
	Namespace    string         `json:"namespace,omitempty"`
	Queue        string         `json:"queue,omitempty"`
	MessageID    string         `json:"message_id,omitempty" jsonschema:"pass to queue_ack, queue_nack or queue_extend"`
	Attempts     int64          `json:"attempts,omitempty"`
	MaxAttempts  int64          `json:"max_attempts,omitempty"`
	ContentType  string         `json:"content_type,omitempty"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	LeaseExpires string         `json:"lease_expires_at,omitempty" jsonschema:"ack, nack or extend before this, or the message is redelivered"`
	TxnID        string         `json:"txn_id,omitempty"`
	Payload      *Payload       `json:"payload,omitempty"`
}

// MessageIn names a delivery of the session.
type MessageIn struct {
	MessageID string `json:"message_id"`
}

// NackIn is the input of queue_nack.
type NackIn struct {
	MessageID    string `json:"message_id"`
	DelaySeconds int64  `json:"delay_seconds,omitempty" jsonschema:"keep it invisible this long before redelivery"`
	Intent       string `json:"intent,omitempty" jsonschema:"failure (default: counts toward max_attempts) or defer (does not)"`
	LastError    any    `json:"last_error,omitempty" jsonschema:"why it failed (any JSON), kept with the message"`
}

// ExtendIn is the input of queue_extend.
type ExtendIn struct {
	MessageID     string `json:"message_id"`
	ExtendSeconds int64  `json:"extend_by_seconds" jsonschema:"keep the delivery yours this much longer from now"`
}

// SettleOut is the output of queue_ack, queue_nack and queue_extend.
type SettleOut struct {
	MessageID    string `json:"message_id"`
	Acked        bool   `json:"acked,omitempty"`
	Nacked       bool   `json:"nacked,omitempty"`
	LeaseExpires string `json:"lease_expires_at,omitempty"`
}

// StatsOut is the output of queue_stats.
type StatsOut struct {
	Namespace        string `json:"namespace"`
	Queue            string `json:"queue"`
	Ready            int64  `json:"ready"`
	Delayed          int64  `json:"delayed"`
	InFlight         int64  `json:"in_flight"`
	DeadLetters      int64  `json:"dead_letters"`
	WaitingConsumers int64  `json:"waiting_consumers"`
	HeadMessageID    string `json:"head_message_id,omitempty"`
	HeadAgeSeconds   int64  `json:"head_age_seconds,omitempty"`
}

// DLQListIn is the input of queue_dlq_list.
type DLQListIn struct {
	QueueIn
	StartAfter string `json:"start_after,omitempty" jsonschema:"cursor of the previous page"`
	Limit      int64  `json:"limit,omitempty"`
}

// DeadLetter is a message of a dead-letter queue.
type DeadLetter struct {
	MessageID      string         `json:"message_id"`
	Attempts       int64          `json:"attempts"`
	Reason         string         `json:"reason"`
	DeadLetteredAt string         `json:"dead_lettered_at,omitempty"`
	LastError      any            `json:"last_error,omitempty"`
	Attributes     map[string]any `json:"attributes,omitempty"`
	PayloadBytes   int64          `json:"payload_bytes"`
}

// DLQListOut is the output of queue_dlq_list.
type DLQListOut struct {
	Messages   []DeadLetter `json:"messages"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// DLQRequeueIn is the input of queue_dlq_requeue.
type DLQRequeueIn struct {
	QueueIn
	MessageIDs   []string `json:"message_ids,omitempty"`
	All          bool     `json:"all,omitempty" jsonschema:"requeue every dead letter of the queue"`
	DelaySeconds int64    `json:"delay_seconds,omitempty"`
}

// DLQRequeueOut is the output of queue_dlq_requeue.
type DLQRequeueOut struct {
	Requeued []string `json:"requeued"`
	Skipped  []string `json:"skipped,omitempty"`
}

func (f *Facade) addQueueTools() {
	tool(f, &sdkmcp.Tool{Name: "queue_enqueue", Annotations: mutating("Enqueue a message", false),
		Description: "Add a message (json, text or base64 payload) to a queue; it is delivered at least once. For payloads too large for one call use upload_begin with target queue."}, f.enqueue)
	tool(f, &sdkmcp.Tool{Name: "queue_dequeue", Annotations: mutating("Dequeue a message", false),
		Description: "Take the next message of a queue (found=false when none arrived within wait_seconds). The delivery is yours until lease_expires_at: " +
			"queue_ack it when done, queue_nack it to give it back, queue_extend it for long work. Large payloads come as stream_id."}, f.dequeue)
	tool(f, &sdkmcp.Tool{Name: "queue_ack", Annotations: mutating("Acknowledge a message", true),
		Description: "Confirm a delivery of this session: the message is deleted."}, f.ack)
	tool(f, &sdkmcp.Tool{Name: "queue_nack", Annotations: mutating("Return a message", false),
		Description: "Give a delivery back for redelivery (after delay_seconds). intent=failure counts toward max_attempts (then the dead-letter queue); intent=defer does not."}, f.nack)
	tool(f, &sdkmcp.Tool{Name: "queue_extend", Annotations: mutating("Extend a delivery", false),
		Description: "Keep a delivery of this session leased for extend_by_seconds more, while you still work on it."}, f.extend)
	tool(f, &sdkmcp.Tool{Name: "queue_stats", Annotations: readOnly("Queue statistics"),
		Description: "Counts of a queue: ready, delayed, in flight, dead letters, waiting consumers, and its head message."}, f.stats)
	tool(f, &sdkmcp.Tool{Name: "queue_dlq_list", Annotations: readOnly("List dead letters"),
		Description: "List a queue's dead letters (messages that failed max_attempts or expired), oldest first, with why."}, f.dlqList)
	tool(f, &sdkmcp.Tool{Name: "queue_dlq_requeue", Annotations: mutating("Requeue dead letters", false),
		Description: "Move dead letters (message_ids, or all) back into the queue with a fresh failure budget."}, f.dlqRequeue)
}

func (f *Facade) enqueue(ctx context.Context, c *call, in EnqueueIn) (EnqueueOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessWrite)
	if err != nil {
		return EnqueueOut{}, err
	}
	data, err := in.bytes()
	if err != nil {
		return EnqueueOut{}, err
	}
	opts := in.sdk(ns)
	if in.JSON != nil {
		if len(data) > 0 {
			return EnqueueOut{}, errArg("give one of json, text or base64")
		}
		if data, err = marshalJSON(in.JSON); err != nil {
			return EnqueueOut{}, err
		}
		if opts.ContentType == "" {
			opts.ContentType = "application/json"
		}
	} else if in.Text != "" && opts.ContentType == "" {
		opts.ContentType = "text/plain; charset=utf-8"
	}
	res, err := f.cfg.Client.Enqueue(ctx, in.Queue, bytes.NewReader(data), opts)
	if err != nil {
		return EnqueueOut{}, err
	}
	return enqueueOut(res), nil
}

func (f *Facade) dequeue(ctx context.Context, c *call, in DequeueIn) (DeliveryOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessReadWrite)
	if err != nil {
		return DeliveryOut{}, err
	}
	if in.TxnID != "" && len(c.s.txnLeases(in.TxnID)) == 0 {
		return DeliveryOut{}, &ToolError{Code: CodeTxnNotHeld, Detail: "this session holds no lease of transaction " + in.TxnID}
	}
	d := f.detachable(ctx)
	m, err := f.cfg.Client.Dequeue(d.ctx, in.Queue, sdk.DequeueOptions{Namespace: ns, Owner: c.owner(in.Owner),
		Visibility: time.Duration(in.VisibilitySeconds) * time.Second, BlockSeconds: blockSeconds(in.WaitSeconds), TxnID: in.TxnID})
	if err != nil {
		d.fail()
		if errors.Is(err, sdk.ErrWaiting) {
			return DeliveryOut{Found: false}, nil
		}
		return DeliveryOut{}, err
	}
	payload := d.detach(messagePayload{m})
	if err := c.s.addDelivery(m); err != nil {
		payload.Close()
		m.Close()
		return DeliveryOut{}, err
	}
	meta := m.Meta()
	out := DeliveryOut{Found: true, Namespace: meta.Namespace, Queue: meta.Queue, MessageID: meta.MessageID, Attempts: meta.Attempts,
		MaxAttempts: meta.MaxAttempts, ContentType: meta.PayloadContentType, Attributes: meta.Attributes, TxnID: meta.TxnID}
	if meta.LeaseExpiresAtUnix > 0 {
		out.LeaseExpires = unixTime(meta.LeaseExpiresAtUnix)
	}
	p, err := c.payload(payload, meta.PayloadBytes, meta.PayloadContentType, in.Stream)
	if err != nil {
		return DeliveryOut{}, err
	}
	out.Payload = &p
	return out, nil
}

// messagePayload reads a delivery's payload; closing it discards the rest
// of the payload but keeps the delivery.
type messagePayload struct{ m *sdk.QueueMessage }

func (p messagePayload) Read(b []byte) (int, error) { return p.m.Read(b) }
func (p messagePayload) Close() error               { return p.m.ClosePayload() }

func (f *Facade) ack(ctx context.Context, c *call, in MessageIn) (SettleOut, error) {
	m, err := c.s.delivery(in.MessageID)
	if err != nil {
		return SettleOut{}, err
	}
	if err := m.Ack(ctx); err != nil {
		if errors.Is(err, sdk.ErrMessageSettled) || errors.Is(err, sdk.ErrNotFound) {
			c.s.dropDelivery(in.MessageID)
		}
		return SettleOut{}, err
	}
	c.s.dropDelivery(in.MessageID)
	return SettleOut{MessageID: in.MessageID, Acked: true}, nil
}

func (f *Facade) nack(ctx context.Context, c *call, in NackIn) (SettleOut, error) {
	m, err := c.s.delivery(in.MessageID)
	if err != nil {
		return SettleOut{}, err
	}
	intent := api.NackIntent(in.Intent)
	switch intent {
	case "", api.NackIntentFailure, api.NackIntentDefer:
	default:
		return SettleOut{}, errArg("intent must be failure or defer")
	}
	err = m.Nack(ctx, sdk.NackOptions{Delay: time.Duration(in.DelaySeconds) * time.Second, Intent: intent, LastError: in.LastError})
	if err != nil {
		if errors.Is(err, sdk.ErrMessageSettled) || errors.Is(err, sdk.ErrNotFound) {
			c.s.dropDelivery(in.MessageID)
		}
		return SettleOut{}, err
	}
	c.s.dropDelivery(in.MessageID)
	return SettleOut{MessageID: in.MessageID, Nacked: true}, nil
}

func (f *Facade) extend(ctx context.Context, c *call, in ExtendIn) (SettleOut, error) {
	m, err := c.s.delivery(in.MessageID)
	if err != nil {
		return SettleOut{}, err
	}
	if in.ExtendSeconds <= 0 {
		return SettleOut{}, errArg("extend_by_seconds must be positive")
	}
	if err := m.Extend(ctx, time.Duration(in.ExtendSeconds)*time.Second); err != nil {
		return SettleOut{}, err
	}
	out := SettleOut{MessageID: in.MessageID}
	if exp := m.Meta().LeaseExpiresAtUnix; exp > 0 {
		out.LeaseExpires = unixTime(exp)
	}
	return out, nil
}

func (f *Facade) stats(ctx context.Context, c *call, in QueueIn) (StatsOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return StatsOut{}, err
	}
	s, err := f.cfg.Client.QueueStats(ctx, in.Queue, sdk.WithNamespace(ns))
	if err != nil {
		return StatsOut{}, err
	}
	return StatsOut{Namespace: s.Namespace, Queue: s.Queue, Ready: s.Ready, Delayed: s.Delayed, InFlight: s.InFlight,
		DeadLetters: s.DeadLetters, WaitingConsumers: s.WaitingConsumers, HeadMessageID: s.HeadMessageID, HeadAgeSeconds: s.HeadAgeSeconds}, nil
}

func (f *Facade) dlqList(ctx context.Context, c *call, in DLQListIn) (DLQListOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return DLQListOut{}, err
	}
	res, err := f.cfg.Client.QueueDLQList(ctx, api.QueueDLQListRequest{Namespace: ns, Queue: in.Queue, StartAfter: in.StartAfter, Limit: in.Limit})
	if err != nil {
		return DLQListOut{}, err
	}
	out := DLQListOut{Messages: make([]DeadLetter, 0, len(res.Messages)), NextCursor: res.NextCursor}
	for _, m := range res.Messages {
		d := DeadLetter{MessageID: m.MessageID, Attempts: m.Attempts, Reason: m.DeadLetterReason, Attributes: m.Attributes, PayloadBytes: m.PayloadBytes}
		if m.DeadLetteredAtUnix > 0 {
			d.DeadLetteredAt = unixTime(m.DeadLetteredAtUnix)
		}
		if len(m.LastError) > 0 {
			d.LastError = rawJSON(m.LastError)
		}
		out.Messages = append(out.Messages, d)
	}
	return out, nil
}

func (f *Facade) dlqRequeue(ctx context.Context, c *call, in DLQRequeueIn) (DLQRequeueOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessReadWrite)
	if err != nil {
		return DLQRequeueOut{}, err
	}
	if !in.All && len(in.MessageIDs) == 0 {
		return DLQRequeueOut{}, errArg("give message_ids or all=true")
	}
	res, err := f.cfg.Client.QueueDLQRequeue(ctx, api.QueueDLQRequeueRequest{Namespace: ns, Queue: in.Queue,
		MessageIDs: in.MessageIDs, All: in.All, DelaySeconds: in.DelaySeconds})
	if err != nil {
		return DLQRequeueOut{}, err
	}
	out := DLQRequeueOut{Requeued: res.Requeued, Skipped: res.Skipped}
	if out.Requeued == nil {
		out.Requeued = []string{}
	}
	return out, nil
}
