package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// QueueMessage is a leased delivery: its metadata, its payload (read it
// once, through Read or the helpers) and the means to settle it. Settle
// each message exactly once with Ack or Nack; Close nacks an unsettled
// message. Methods are safe for concurrent use.
type QueueMessage struct {
	c      *Client
	cursor string
	state  *QueueState

	payloadMu sync.Mutex
	payload   io.ReadCloser
	closed    bool

	mu      sync.Mutex
	msg     api.Message
	settled bool
}

func (c *Client) newQueueMessage(meta api.DequeueResponse) *QueueMessage {
	m := &QueueMessage{c: c, msg: meta.Message, cursor: meta.NextCursor}
	if meta.Message.StateLeaseID != "" {
		m.state = c.newQueueState(meta.Message)
	}
	return m
}

// Meta returns a copy of the delivery's metadata as the server sent it
// (MetaETag and expiry as of the last extend or nack).
func (m *QueueMessage) Meta() api.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msg
}

// ID is the message id.
func (m *QueueMessage) ID() string { return m.msg.MessageID }

// Queue is the queue the message came from.
func (m *QueueMessage) Queue() string { return m.msg.Queue }

// Namespace is the queue's namespace.
func (m *QueueMessage) Namespace() string { return m.msg.Namespace }

// Attempts counts the deliveries of the message, this one included.
func (m *QueueMessage) Attempts() int64 { return m.msg.Attempts }

// Cursor is the next_cursor of the dequeue that returned the message.
func (m *QueueMessage) Cursor() string { return m.cursor }

// ContentType is the payload's content type.
func (m *QueueMessage) ContentType() string { return m.msg.PayloadContentType }

// State returns the workflow state of a DequeueWithState delivery, or nil.
func (m *QueueMessage) State() *QueueState { return m.state }

// Read reads the payload.
func (m *QueueMessage) Read(p []byte) (int, error) {
	m.payloadMu.Lock()
	r, closed := m.payload, m.closed
	m.payloadMu.Unlock()
	if r == nil || closed {
		return 0, io.EOF
	}
	return r.Read(p)
}

// DecodePayloadJSON decodes the payload as JSON into v.
func (m *QueueMessage) DecodePayloadJSON(v any) error {
	defer m.ClosePayload()
	if err := json.NewDecoder(m).Decode(v); err != nil {
		return fmt.Errorf("lockd: decode payload of %s: %w", m.ID(), err)
	}
	return nil
}

// WritePayloadTo copies the payload to w and closes it.
func (m *QueueMessage) WritePayloadTo(w io.Writer) (int64, error) {
	defer m.ClosePayload()
	return io.Copy(w, m)
}

// ClosePayload discards what is left of the payload.
func (m *QueueMessage) ClosePayload() error {
	m.payloadMu.Lock()
	defer m.payloadMu.Unlock()
	if m.payload == nil || m.closed {
		return nil
	}
	m.closed = true
	return m.payload.Close()
}

// settle marks the message settled, failing if it already was.
func (m *QueueMessage) settle() (api.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settled {
		return m.msg, ErrMessageSettled
	}
	m.settled = true
	return m.msg, nil
}

func (m *QueueMessage) unsettle() {
	m.mu.Lock()
	m.settled = false
	m.mu.Unlock()
}

func (m *QueueMessage) ctx(ctx context.Context) context.Context {
	if m.msg.CorrelationID != "" && CorrelationIDFromContext(ctx) == "" {
		return WithCorrelationID(ctx, m.msg.CorrelationID)
	}
	return ctx
}

// Ack confirms the message: it is deleted (with its workflow state, which
// the ack releases).
func (m *QueueMessage) Ack(ctx context.Context) error {
	msg, err := m.settle()
	if err != nil {
		return err
	}
	m.ClosePayload()
	req := api.AckRequest{Namespace: msg.Namespace, Queue: msg.Queue, MessageID: msg.MessageID, LeaseID: msg.LeaseID,
		FencingToken: msg.FencingToken, MetaETag: msg.MetaETag, TxnID: msg.TxnID}
	if st := m.state; st != nil {
		req.StateLeaseID, req.StateFencingToken, req.StateETag = st.LeaseID, st.FencingToken, msg.StateETag
	}
	if _, err := m.c.QueueAck(m.ctx(ctx), req); err != nil {
		if !isDeliveryGone(err) {
			m.unsettle()
		}
		return err
	}
	m.state.settled()
	return nil
}

// NackOptions describe a nack.
type NackOptions struct {
	// Delay keeps the message invisible for a while.
	Delay time.Duration
	// Intent is api.NackIntentFailure (default: counts toward
	// max_attempts) or api.NackIntentDefer (does not).
	Intent api.NackIntent
	// LastError is recorded with a failure (any JSON value).
	LastError any
}

// Nack returns the message to the queue.
func (m *QueueMessage) Nack(ctx context.Context, opts NackOptions) error {
	msg, err := m.settle()
	if err != nil {
		return err
	}
	m.ClosePayload()
	req := api.NackRequest{Namespace: msg.Namespace, Queue: msg.Queue, MessageID: msg.MessageID, LeaseID: msg.LeaseID,
		FencingToken: msg.FencingToken, MetaETag: msg.MetaETag, TxnID: msg.TxnID,
		DelaySeconds: seconds(opts.Delay), Intent: opts.Intent}
	if opts.LastError != nil {
		if req.LastError, err = json.Marshal(opts.LastError); err != nil {
			m.unsettle()
			return fmt.Errorf("lockd: encode last_error: %w", err)
		}
	}
	if st := m.state; st != nil {
		req.StateLeaseID, req.StateFencingToken = st.LeaseID, st.FencingToken
	}
	res, err := m.c.QueueNack(m.ctx(ctx), req)
	if err != nil {
		if !isDeliveryGone(err) {
			m.unsettle()
		}
		return err
	}
	m.mu.Lock()
	if res.MetaETag != "" {
		m.msg.MetaETag = res.MetaETag
	}
	m.mu.Unlock()
	m.state.settled()
	return nil
}

// Extend keeps the message (and its workflow state) leased for another
// `by` from now.
func (m *QueueMessage) Extend(ctx context.Context, by time.Duration) error {
	m.mu.Lock()
	if m.settled {
		m.mu.Unlock()
		return ErrMessageSettled
	}
	msg := m.msg
	m.mu.Unlock()
	req := api.ExtendRequest{Namespace: msg.Namespace, Queue: msg.Queue, MessageID: msg.MessageID, LeaseID: msg.LeaseID,
		FencingToken: msg.FencingToken, MetaETag: msg.MetaETag, TxnID: msg.TxnID, ExtendBySeconds: seconds(by)}
	if st := m.state; st != nil {
		req.StateLeaseID, req.StateFencingToken = st.LeaseID, st.FencingToken
	}
	res, err := m.c.QueueExtend(m.ctx(ctx), req)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if res.MetaETag != "" {
		m.msg.MetaETag = res.MetaETag
	}
	if res.LeaseExpiresAtUnix > 0 {
		m.msg.LeaseExpiresAtUnix = res.LeaseExpiresAtUnix
	}
	if res.VisibilityTimeoutSeconds > 0 {
		m.msg.VisibilityTimeoutSeconds = res.VisibilityTimeoutSeconds
	}
	m.mu.Unlock()
	if m.state != nil && res.StateLeaseExpiresAtUnix > 0 {
		m.state.extended(time.Unix(res.StateLeaseExpiresAtUnix, 0))
	}
	return nil
}

// Close nacks the message if it was not settled (a failure, within the
// client's close timeout) and discards its payload.
func (m *QueueMessage) Close() error {
	m.ClosePayload()
	m.mu.Lock()
	settled := m.settled
	m.mu.Unlock()
	if settled {
		return nil
	}
	ctx, cancel := m.c.timeoutCtx(m.c.cfg.closeTimeout)
	defer cancel()
	err := m.Nack(ctx, NackOptions{LastError: map[string]string{"detail": "closed without ack"}})
	if errors.Is(err, ErrMessageSettled) {
		return nil
	}
	return err
}
