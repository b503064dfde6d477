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
	err := m.qs.Check(ctx, ref, p.MessageID, proof)
	switch {
	case err == nil:
		return nil
	case isDeliveryGone(err) || errors.Is(err, queues.ErrFencingMismatch) || errors.Is(err, queues.ErrTxnMismatch):
		// The delivery the transaction holds is gone or was never this one.
		return fmt.Errorf("%w: %s: %w", txn.ErrQueueLeaseMismatch, p.MessageID, err)
	}
	return err // the queue could not answer (unavailable, corrupt)
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
	if isDeliveryGone(err) {
		return nil
	}
	return err
}

// isDeliveryGone reports a message that was acked, or whose delivery ended.
func isDeliveryGone(err error) bool {
	return errors.Is(err, queues.ErrNotFound) || errors.Is(err, queues.ErrLeaseRequired) || errors.Is(err, queues.ErrLeaseExpired)
}
