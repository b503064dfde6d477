package queues

import (
	"context"
	"io"

	"github.com/lockdhq/lockd/actors"
)

// Enqueue stores body and enqueues it (Prepare, then EnqueuePrepared).
func (s *Service) Enqueue(ctx context.Context, req EnqueueRequest, body io.Reader) (EnqueueResult, error) {
	p, err := s.Prepare(ctx, req.Ref, body)
	if err != nil {
		return EnqueueResult{}, err
	}
	return s.EnqueuePrepared(ctx, req, p)
}

// EnqueuePrepared enqueues a message whose payload was prepared for the
// same queue. It answers once the message record is durable; on error the
// payload is discarded.
func (s *Service) EnqueuePrepared(ctx context.Context, req EnqueueRequest, p *Payload) (EnqueueResult, error) {
	if req.DLQ {
		p.Discard()
		return EnqueueResult{}, fail(ErrReadOnly, "messages enter a dead-letter queue only by failing")
	}
	now := s.clock.Now()
	rec := record{
		ID: p.id, EnqueuedAt: now.UnixNano(), VisibleAt: now.Add(max(req.Delay, 0)).UnixNano(),
		Visibility: int64(min(max(req.Visibility, 0), s.cfg.MaxVisibility)), MaxAttempts: req.MaxAttempts,
		CorrelationID: req.CorrelationID, Attributes: req.Attributes, ContentType: req.ContentType,
		Size: p.size, Inline: p.inline, Blob: p.blob,
	}
	if req.TTL > 0 {
		rec.ExpiresAt = now.Add(req.TTL).UnixNano()
	}
	v, err := s.call(ctx, req.Ref, &opEnqueue{rec: rec})
	if err != nil {
		p.Discard()
		return EnqueueResult{}, err
	}
	return v.(EnqueueResult), nil
}

// Dequeue delivers up to req.Max messages, waiting up to req.Wait for the
// first. It returns ErrEmpty when none became available. Each delivery
// must be acked, nacked, left to time out, or returned with Release.
func (s *Service) Dequeue(ctx context.Context, req DequeueRequest) ([]*Delivery, error) {
	if req.Stateful {
		if s.cfg.State == nil {
			return nil, fail(ErrNoState, "workflow state is not configured on this server")
		}
		req.Max = 1
	}
	op := &opDequeue{dlq: req.DLQ, owner: req.Owner, vis: req.Visibility, wait: req.Wait, max: req.Max, txn: req.TxnID}
	// Timer and client watch are armed only if the actor parks the request.
	v, err := s.caller.Call(ctx, actorID(req.Ref), op, actors.WaitUpTo(req.Wait, req.WhileBlocked, req.Delivered))
	if err != nil {
		return nil, err
	}
	ds := v.([]*Delivery)
	if req.Stateful {
		if err := s.attachStates(ctx, ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// Release returns deliveries that never reached their consumer: they are
// visible again at once and do not count as failures. Their state leases,
// if any, are rolled back.
func (s *Service) Release(ctx context.Context, ds []*Delivery) error {
	byLane := map[Ref]*opRelease{}
	for _, d := range ds {
		op := byLane[d.Ref]
		if op == nil {
			op = &opRelease{dlq: d.DLQ}
			byLane[d.Ref] = op
		}
		op.ids = append(op.ids, d.ID)
		op.leaseIDs = append(op.leaseIDs, d.LeaseID)
		s.dropState(ctx, d)
	}
	var first error
	for ref, op := range byLane {
		if _, err := s.call(ctx, ref, op); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Ack confirms a delivery: the message is deleted (and its payload blob
// once that is durable). A second ack of the same delivery gets
// ErrNotFound. With req.State the workflow state is deleted and its lease
// released.
func (s *Service) Ack(ctx context.Context, req AckRequest) (AckResult, error) {
	v, err := s.call(ctx, req.Ref, &opAck{dlq: req.DLQ, id: req.ID, p: req.Proof})
	if err != nil {
		return AckResult{}, err
	}
	st := v.(settled)
	s.releaseState(ctx, req.Ref, req.ID, req.State, st.txn, true)
	return AckResult{CorrelationID: st.cid}, nil
}

// Check reports whether p still proves the delivery of message id (a
// transaction prepares with it before committing an ack).
func (s *Service) Check(ctx context.Context, ref Ref, id string, p Proof) error {
	_, err := s.call(ctx, ref, &opCheck{dlq: ref.DLQ, id: id, p: p})
	return err
}

// Nack returns a delivery to the queue after req.Delay. A failure (the
// default intent) counts toward max_attempts and may move the message to
// the DLQ; a defer does not. With req.State the workflow-state lease is
// released, committing what the consumer staged.
func (s *Service) Nack(ctx context.Context, req NackRequest) (NackResult, error) {
	v, err := s.call(ctx, req.Ref, &opNack{dlq: req.DLQ, id: req.ID, p: req.Proof, intent: req.Intent, delay: req.Delay, lastErr: req.LastError})
	if err != nil {
		return NackResult{}, err
	}
	st := v.(settled)
	s.releaseState(ctx, req.Ref, req.ID, req.State, st.txn, false)
	return NackResult{MetaETag: st.etag, DeadLettered: st.dead, CorrelationID: st.cid}, nil
}

// Extend moves a delivery's visibility deadline to now + req.By, and with
// req.State the workflow-state lease's expiry with it.
func (s *Service) Extend(ctx context.Context, req ExtendRequest) (ExtendResult, error) {
	v, err := s.call(ctx, req.Ref, &opExtend{dlq: req.DLQ, id: req.ID, p: req.Proof, by: req.By})
	if err != nil {
		return ExtendResult{}, err
	}
	st := v.(settled)
	res := ExtendResult{LeaseExpires: st.expires, Visibility: st.vis, MetaETag: st.etag, CorrelationID: st.cid}
	if req.State != nil {
		if res.StateLeaseExpires, err = s.keepState(ctx, req.Ref, req.ID, *req.State, st.txn, st.vis); err != nil {
			return ExtendResult{}, err
		}
	}
	return res, nil
}

// Stats returns a snapshot of the queue (or DLQ) counters and its head.
func (s *Service) Stats(ctx context.Context, ref Ref) (Stats, error) {
	v, err := s.call(ctx, ref, &opStats{dlq: ref.DLQ})
	if err != nil {
		return Stats{}, err
	}
	return v.(Stats), nil
}

// ListDLQ returns up to limit dead letters of ref's queue with ids after
// the cursor, oldest first.
func (s *Service) ListDLQ(ctx context.Context, ref Ref, after string, limit int) (DLQPage, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	v, err := s.call(ctx, ref.Base(), &opList{after: after, limit: limit})
	if err != nil {
		return DLQPage{}, err
	}
	return v.(DLQPage), nil
}

// Requeue moves dead letters back into their queue with a fresh failure
// budget.
func (s *Service) Requeue(ctx context.Context, req RequeueRequest) (RequeueResult, error) {
	v, err := s.call(ctx, req.Ref.Base(), &opRequeue{ids: req.IDs, all: req.All, delay: req.Delay})
	if err != nil {
		return RequeueResult{}, err
	}
	return v.(RequeueResult), nil
}
