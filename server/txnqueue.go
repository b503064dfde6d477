package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/txn"
)

// messageRM lets the transaction coordinator settle enlisted queue
// deliveries: commit acks them, rollback nacks them (counting a failure).
type messageRM struct{ qs *queues.Service }

var _ txn.MessageRM = messageRM{}

func (m messageRM) ref(p txn.Participant) (queues.Ref, queues.Proof) {
	return queues.Ref{Namespace: p.Namespace, Queue: p.Queue}, queues.Proof{LeaseID: p.LeaseID, Fencing: p.Fencing}
}

func (m messageRM) PrepareMessage(ctx context.Context, txnID string, p txn.Participant) error {
	ref, proof := m.ref(p)
	proof.TxnID = txnID
	if err := m.qs.Check(ctx, ref, p.MessageID, proof); err != nil {
		return fmt.Errorf("%w: %s: %v", txn.ErrQueueLeaseMismatch, p.MessageID, err)
	}
	return nil
}

// ApplyMessage is idempotent: a message already acked, or whose delivery
// already ended, has nothing left to settle.
func (m messageRM) ApplyMessage(ctx context.Context, txnID string, p txn.Participant, commit bool) error {
	ref, proof := m.ref(p)
	var err error
	if commit {
		_, err = m.qs.Ack(ctx, queues.AckRequest{Ref: ref, ID: p.MessageID, Proof: proof})
	} else {
		_, err = m.qs.Nack(ctx, queues.NackRequest{Ref: ref, ID: p.MessageID, Proof: proof, Intent: queues.IntentFailure})
	}
	if errors.Is(err, queues.ErrNotFound) || errors.Is(err, queues.ErrLeaseRequired) || errors.Is(err, queues.ErrLeaseExpired) {
		return nil
	}
	return err
}
