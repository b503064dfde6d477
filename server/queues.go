package server

import (
	"context"
	"errors"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/store"
)

// newQueues starts the queue service. Deliveries default to the lease TTL
// as visibility (as lockd v0.9) and are capped by the max TTL; workflow
// state of stateful dequeues lives in the key service.
func newQueues(st store.Store, keys *keyspace.Service, cfg Config) *queues.Service {
	return queues.New(actors.NewSystem(), st, queues.Config{
		DefaultVisibility: cfg.DefaultTTL, MaxVisibility: cfg.MaxTTL,
		State:  stateLeaser{keys: keys},
		Actors: actors.Config{IdleAfter: cfg.ActorIdle},
	})
}

// Queues exposes the queue service (tests, metrics, benchmarks).
func (s *Server) Queues() *queues.Service { return s.queues }

// stateLeaser implements queues.StateLeaser over the key service: a
// message's workflow state is the ordinary key queues.StateKey(queue, id),
// leased under the delivery's transaction id.
type stateLeaser struct{ keys *keyspace.Service }

var _ queues.StateLeaser = stateLeaser{}

func (l stateLeaser) ref(ns, key string) keyspace.Ref { return keyspace.Ref{Namespace: ns, Key: key} }

func (l stateLeaser) AcquireState(ctx context.Context, ns, key, owner, txn string, ttl, wait time.Duration) (queues.StateLease, error) {
	ls, err := l.keys.Acquire(ctx, keyspace.AcquireRequest{Ref: l.ref(ns, key), Owner: owner, TTL: ttl, Wait: wait, TxnID: txn})
	if errors.Is(err, keyspace.ErrWaiting) {
		return queues.StateLease{}, errors.Join(queues.ErrStateBusy, err)
	}
	if err != nil {
		return queues.StateLease{}, err
	}
	return queues.StateLease{LeaseID: ls.LeaseID, TxnID: ls.TxnID, Fencing: ls.Fencing, ExpiresAt: ls.ExpiresAt, ETag: ls.ETag}, nil
}

func (l stateLeaser) proof(p queues.StateProof, txn string) keyspace.LeaseProof {
	return keyspace.LeaseProof{LeaseID: p.LeaseID, Fencing: p.Fencing, TxnID: txn}
}

func (l stateLeaser) KeepAliveState(ctx context.Context, ns, key string, p queues.StateProof, txn string, ttl time.Duration) (time.Time, error) {
	return l.keys.KeepAlive(ctx, keyspace.KeepAliveRequest{Ref: l.ref(ns, key), LeaseProof: l.proof(p, txn), TTL: ttl})
}

func (l stateLeaser) ReleaseState(ctx context.Context, ns, key string, p queues.StateProof, txn string, remove bool) error {
	ref := l.ref(ns, key)
	if remove {
		if _, err := l.keys.Remove(ctx, keyspace.RemoveRequest{Ref: ref, LeaseProof: l.proof(p, txn)}); err != nil {
			return err
		}
	}
	_, err := l.keys.Release(ctx, keyspace.ReleaseRequest{Ref: ref, LeaseProof: l.proof(p, txn)})
	return err
}
