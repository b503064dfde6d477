package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// UpdateMetadata stages metadata attributes (query_hidden) of the lease
// ref names, without a LeaseSession (a lease acquired by another process,
// or by the CLI); like LeaseSession.UpdateMetadata it is committed on
// release. A zero ref.FencingToken is taken from RegisterLeaseToken.
func (c *Client) UpdateMetadata(ctx context.Context, ref LeaseRef, m api.MetadataMutation, opts ...UpdateOption) (*api.MetadataUpdateResponse, error) {
	if ref.FencingToken == 0 {
		ref.FencingToken = c.FencingToken(ref.LeaseID)
	}
	s := c.session(api.AcquireResponse{Namespace: c.ns(ref.Namespace), Key: ref.Key, LeaseID: ref.LeaseID,
		TxnID: ref.TxnID, FencingToken: ref.FencingToken}, ref.TTLSeconds)
	return s.UpdateMetadata(ctx, m, opts...)
}

// queueStateDoc is the document EnsureStateExists creates, shaped as
// lockd v0.9 shapes a message's fresh workflow state.
type queueStateDoc struct {
	Type          string    `json:"type"`
	Namespace     string    `json:"namespace"`
	Queue         string    `json:"queue"`
	MessageID     string    `json:"message_id"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	CorrelationID string    `json:"correlation_id,omitempty"`
}

// EnsureStateExists makes sure the workflow state of a DequeueWithState
// delivery has a document: when the delivery found none (State().ETag
// ""), it stages one naming the queue and message (lockd v0.9's shape)
// and returns its ETag; otherwise it returns the ETag the state has. The
// state lives as long as the message: Nack commits it for the next
// delivery, Ack deletes it.
func (m *QueueMessage) EnsureStateExists(ctx context.Context) (string, error) {
	st := m.State()
	if st == nil {
		return "", fmt.Errorf("lockd: message %s has no workflow state (dequeue with DequeueWithState)", m.ID())
	}
	queue, messageID := m.Queue(), m.ID()
	if st.ETag != "" {
		return st.ETag, nil
	}
	now := time.Now().UTC()
	doc, err := json.Marshal(queueStateDoc{Type: "queue_state", Namespace: st.Namespace, Queue: queue,
		MessageID: messageID, CreatedAt: now, UpdatedAt: now, CorrelationID: st.CorrelationID})
	if err != nil {
		return "", err
	}
	out, err := st.UpdateBytes(ctx, doc)
	if err != nil {
		return "", err
	}
	st.ETag = out.NewStateETag
	return st.ETag, nil
}
