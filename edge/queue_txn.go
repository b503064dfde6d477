package edge

import (
	"context"

	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/txn"
)

// A dequeue or subscription that names a txn_id enlists its deliveries in
// that transaction: committing the transaction acks them, rolling it back
// nacks them. The ack or nack of an enlisted delivery decides the
// transaction, like a release.

func messageParticipant(ref queues.Ref, id, leaseID string, fencing uint64) txn.Participant {
	return txn.Participant{Kind: txn.KindMessage, Namespace: ref.Namespace, Queue: ref.Queue,
		MessageID: id, LeaseID: leaseID, Fencing: fencing}
}

// enlistDeliveries joins dequeued (or subscribed) messages to txnID; on
// failure the deliveries are released so that nothing stays leased unseen.
func (s *Server) enlistDeliveries(ctx context.Context, qs *queues.Service, ref queues.Ref, txnID string, ds []*queues.Delivery) error {
	if txnID == "" || s.txns == nil || ref.DLQ {
		return nil
	}
	for _, d := range ds {
		p := messageParticipant(ref, d.ID, d.LeaseID, d.Fencing)
		if err := s.txns.Enlist(ctx, txnID, p); err != nil {
			releaseDetached(qs, ds)
			return err
		}
	}
	return nil
}

// settleInTxn lets an ack (commit) or nack (rollback) of an enlisted
// delivery decide its transaction; it reports false when the delivery is
// not part of a multi-participant transaction.
func (s *Server) settleInTxn(c *call, ref queues.Ref, id, leaseID string, fencing uint64, txnID string, commit bool) (bool, error) {
	if s.txns == nil {
		return false, nil
	}
	return s.txns.SettleMessage(c.ctx, txnID, messageParticipant(ref, id, leaseID, fencing), commit)
}
