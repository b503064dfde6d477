package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/keyspace"
)

// ResourceManager applies decisions to the participants it owns. The local
// node is one; a remote node would implement it over /v1/txn/commit and
// /v1/txn/rollback. by says who asks: keyspace.OwnTC (this island's
// coordinator), keyspace.OperatorTC (a tool) or another island's
// coordinator (its backend hash).
type ResourceManager interface {
	// Prepare reports whether p can still commit (its lease is live).
	Prepare(ctx context.Context, txnID string, p Participant, by string) error
	// Apply commits or rolls back p's part. It is idempotent.
	Apply(ctx context.Context, txnID string, p Participant, commit bool, by string) error
}

var _ ResourceManager = (*localRM)(nil)

// MessageRM is what the coordinator needs from the queue to enlist
// dequeued messages: ack on commit, nack on rollback.
type MessageRM interface {
	PrepareMessage(ctx context.Context, txnID string, p Participant) error
	ApplyMessage(ctx context.Context, txnID string, p Participant, commit bool) error
}

// ErrUnknownParticipant is returned for a participant kind no resource
// manager handles.
var ErrUnknownParticipant = errors.New("txn: unknown participant kind")

// localRM applies decisions to this node's keys and queues. Its fields are
// set by New and never written again, so actors read them without locks.
type localRM struct {
	keys *keyspace.Service
	msgs MessageRM
}

func (l *localRM) Prepare(ctx context.Context, txnID string, p Participant, by string) error {
	switch p.Kind {
	case "":
		return l.keys.PrepareTxn(ctx, keyspace.Ref{Namespace: p.Namespace, Key: p.Key}, txnID, by)
	case KindMessage:
		if l.msgs == nil {
			return fmt.Errorf("%w: %q (no queue)", ErrUnknownParticipant, p.Kind)
		}
		return l.msgs.PrepareMessage(ctx, txnID, p)
	}
	return fmt.Errorf("%w: %q", ErrUnknownParticipant, p.Kind)
}

func (l *localRM) Apply(ctx context.Context, txnID string, p Participant, commit bool, by string) error {
	switch p.Kind {
	case "":
		_, err := l.keys.ApplyTxn(ctx, keyspace.Ref{Namespace: p.Namespace, Key: p.Key}, txnID, commit, by)
		return err
	case KindMessage:
		if l.msgs == nil {
			return fmt.Errorf("%w: %q (no queue)", ErrUnknownParticipant, p.Kind)
		}
		return l.msgs.ApplyMessage(ctx, txnID, p, commit)
	}
	return fmt.Errorf("%w: %q", ErrUnknownParticipant, p.Kind)
}
