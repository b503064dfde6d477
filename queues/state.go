package queues

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/internal/domainerr"
)

// StateLeaser leases a message's workflow state: a JSON state key in the
// queue's namespace (StateKey) that a stateful consumer reads and updates
// with the ordinary state API while it holds the lease. The server wires an
// implementation over the key service, so this package stays independent
// of it. Implementations are safe for concurrent use.
type StateLeaser interface {
	// AcquireState takes the lease on key for ttl under transaction txn,
	// waiting at most wait for a previous holder. It returns an error
	// wrapping ErrStateBusy when the key stays leased.
	AcquireState(ctx context.Context, namespace, key, owner, txn string, ttl, wait time.Duration) (StateLease, error)
	// KeepAliveState extends the lease to now + ttl and returns the new
	// expiry.
	KeepAliveState(ctx context.Context, namespace, key string, p StateProof, txn string, ttl time.Duration) (time.Time, error)
	// ReleaseState ends the lease, committing what was staged under it;
	// with remove the state is deleted first.
	ReleaseState(ctx context.Context, namespace, key string, p StateProof, txn string, remove bool) error
}

// stateWait bounds how long a stateful delivery waits for the state lease
// of the message's previous delivery, which is taken just after the
// message lease and so expires just after it.
const stateWait = 2 * time.Second

// attachStates leases the workflow state of each delivery. On failure
// every delivery is released and the error returned.
func (s *Service) attachStates(ctx context.Context, ds []*Delivery) error {
	for i, d := range ds {
		ttl := d.LeaseExpires.Sub(s.clock.Now())
		key := StateKey(d.Queue, d.ID)
		sl, err := s.cfg.State.AcquireState(ctx, d.Namespace, key, d.Owner, d.TxnID, ttl, stateWait)
		if err != nil {
			rctx, cancel := storeCtx()
			_ = s.Release(rctx, ds[:i])
			_ = s.Release(rctx, ds[i:])
			cancel()
			if errors.Is(err, ErrStateBusy) {
				return &domainerr.Error{Err: ErrStateBusy, Detail: "workflow state of message " + d.ID + " is still leased", RetryAfter: time.Second}
			}
			return fmt.Errorf("lease workflow state: %w", err)
		}
		sl.Key = key
		d.State = &sl
	}
	return nil
}

// AttachState leases the workflow state of one delivery (subscriptions
// with state). On failure the delivery is released.
func (s *Service) AttachState(ctx context.Context, d *Delivery) error {
	if s.cfg.State == nil {
		return fail(ErrNoState, "workflow state is not configured on this server")
	}
	return s.attachStates(ctx, []*Delivery{d})
}

// dropState releases the state lease of a delivery that is being returned.
func (s *Service) dropState(ctx context.Context, d *Delivery) {
	if d.State == nil || s.cfg.State == nil {
		return
	}
	p := StateProof{LeaseID: d.State.LeaseID, Fencing: d.State.Fencing}
	_ = s.cfg.State.ReleaseState(ctx, d.Namespace, d.State.Key, p, d.State.TxnID, false)
	d.State = nil
}

// releaseState ends the state lease presented with an ack or nack. Like
// lockd v0.9, a stale state proof is ignored: the message outcome stands.
func (s *Service) releaseState(ctx context.Context, ref Ref, id string, p *StateProof, txn string, remove bool) {
	if p == nil || p.LeaseID == "" || s.cfg.State == nil {
		return
	}
	_ = s.cfg.State.ReleaseState(ctx, ref.Namespace, StateKey(ref.Queue, id), *p, txn, remove)
}

func (s *Service) keepState(ctx context.Context, ref Ref, id string, p StateProof, txn string, ttl time.Duration) (time.Time, error) {
	if s.cfg.State == nil {
		return time.Time{}, fail(ErrNoState, "workflow state is not configured on this server")
	}
	return s.cfg.State.KeepAliveState(ctx, ref.Namespace, StateKey(ref.Queue, id), p, txn, ttl)
}
