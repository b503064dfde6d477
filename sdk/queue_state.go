package sdk

import (
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// QueueState is the workflow state of a DequeueWithState delivery: an
// ordinary JSON state key (StateKey) leased together with the message.
// Read and stage it with the embedded session (Load, Save, Update, …).
// Settling the message ends the state's lease: Nack commits what was
// staged, so the next delivery sees it; Ack deletes the state with the
// message. Do not Release it yourself. Extend of the message extends it
// too.
type QueueState struct {
	*LeaseSession
	// ETag is the state's ETag at delivery ("" when it had none).
	ETag string
}

// StateKey is the key of a message's workflow state in the queue's
// namespace ("q/QUEUE/state/ID", as lockd v0.9 names it).
func StateKey(queue, messageID string) string { return "q/" + queue + "/state/" + messageID }

func (c *Client) newQueueState(msg api.Message) *QueueState {
	grant := api.AcquireResponse{Namespace: msg.Namespace, Key: StateKey(msg.Queue, msg.MessageID),
		LeaseID: msg.StateLeaseID, TxnID: msg.StateTxnID, FencingToken: msg.StateFencingToken,
		ExpiresAtUnix: msg.StateLeaseExpiresAtUnix, StateETag: msg.StateETag, CorrelationID: msg.CorrelationID}
	if grant.TxnID == "" {
		grant.TxnID = msg.TxnID
	}
	s := c.session(grant, 0)
	return &QueueState{LeaseSession: s, ETag: msg.StateETag}
}

// settled ends the state's session after the message was acked or nacked.
func (st *QueueState) settled() {
	if st != nil {
		st.ended(errReleased)
	}
}

func (st *QueueState) extended(exp time.Time) {
	st.mu.Lock()
	st.expires = exp
	st.mu.Unlock()
}
