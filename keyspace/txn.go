package keyspace

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockdhq/lockd/store"
)

// ErrEnlisted is returned by Release for a lease whose transaction has other
// participants: the transaction coordinator decides for all of them (see
// package txn). The lease is left untouched.
var ErrEnlisted = errors.New("keyspace: lease is enlisted in a multi-participant transaction")

// Coordinator is the transaction coordinator as the key actors see it.
// Both methods are called from key actors and must not block.
type Coordinator interface {
	// Multi reports whether txnID has a coordinator record (more than one
	// participant), so that its participants must not decide alone.
	Multi(txnID string) bool
	// Expired reports that a participant's lease ran out before the
	// transaction was decided; the coordinator rolls it back.
	Expired(txnID string, ref Ref)
}

// SetCoordinator installs the transaction coordinator; call it before
// serving.
func (s *Service) SetCoordinator(c Coordinator) { s.coord = c }

// Who decides a transaction, as its participants see it: this island's
// own coordinator (OwnTC), an operator's tool (OperatorTC), or another
// island's coordinator, named by its backend hash.
const (
	OwnTC      = ""
	OperatorTC = "*"
)

// Transaction operations; by is who asks (OwnTC, OperatorTC or a backend
// hash).
type (
	opPrepare struct{ txnID, by string }
	opApply   struct {
		txnID  string
		commit bool
		by     string
	}
	opEnlist struct{ txnID string }
)

// enlisted reports whether the lease must follow its transaction's
// decision instead of deciding alone.
func (a *keyActor) enlisted(l *leaseRec) bool {
	if l == nil {
		return false
	}
	return l.Enlisted || (a.svc.coord != nil && a.svc.coord.Multi(l.Txn))
}

// awaitsDecision reports a lapsed lease that is enlisted in a transaction
// with other participants: its staged writes wait for the coordinator's
// decision (which may be a commit not yet applied here), so nobody else
// gets the key until the decision is applied.
func (a *keyActor) awaitsDecision(now time.Time) bool {
	l := a.rec.Lease
	return l != nil && a.rec.live(now) == nil && a.enlisted(l)
}

// prepare checks that the lease of txnID is live: the transaction may
// commit this key. A yes to another island's coordinator is made durable
// (PreparedBy) before it is answered: from then on the lease is in doubt
// and only that coordinator's decision settles it, even after the lease
// lapses (XA: a participant that voted yes does not decide alone).
func (a *keyActor) prepare(now time.Time, req *request, op *opPrepare) {
	if l := a.rec.Lease; l != nil && l.Txn == op.txnID && l.PreparedBy != "" {
		if op.by == l.PreparedBy || op.by == OperatorTC {
			req.Answer(nil, nil, a.last) // the vote stands
			return
		}
		req.Answer(nil, a.inDoubt(l), nil)
		return
	}
	l := a.rec.live(now)
	switch {
	case l != nil && l.Txn == op.txnID && (op.by == OwnTC || op.by == OperatorTC):
		req.Answer(nil, nil, a.last)
	case l != nil && l.Txn == op.txnID:
		next := a.rec
		nl := *l
		nl.Enlisted, nl.PreparedBy = true, op.by
		next.Lease = &nl
		d, err := a.persist(next, nil)
		req.Answer(nil, err, d)
	case a.rec.Lease != nil && a.rec.Lease.Txn == op.txnID:
		req.Answer(nil, a.rec.fail(ErrLeaseExpired, "participant lease expired before the decision"), nil)
	default:
		req.Answer(nil, a.rec.fail(ErrLeaseRequired, "participant no longer holds the lease"), nil)
	}
}

// apply carries out a decision for txnID. It is idempotent: a key that no
// longer holds a lease of txnID has nothing (left) to apply.
func (a *keyActor) apply(now time.Time, req *request, op *opApply) {
	l := a.rec.Lease
	if l == nil || l.Txn != op.txnID {
		req.Answer(false, nil, a.last)
		return
	}
	if l.PreparedBy != "" && op.by != l.PreparedBy && op.by != OperatorTC {
		req.Answer(nil, a.inDoubt(l), nil)
		return
	}
	var next record
	var garbage []string
	committing := op.commit && a.rec.Staged != nil
	if op.commit {
		next, garbage = a.rec.commit(now)
	} else {
		next, garbage = a.rec.dropLease("aborted")
	}
	a.dropOrigin(l.Txn)
	d, err := a.handoff(now, next, garbage, false)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	leasesReleased.Inc() // ended by its transaction's decision
	if committing {
		a.notify(d)
	}
	req.Answer(true, nil, d)
}

// enlist marks the lease of txnID as a participant of a multi-participant
// transaction, durably.
func (a *keyActor) enlist(now time.Time, req *request, op *opEnlist) {
	l := a.rec.live(now)
	if l == nil || l.Txn != op.txnID {
		req.Answer(nil, a.rec.fail(ErrLeaseRequired, "the transaction's lease on this key is gone"), nil)
		return
	}
	if l.Enlisted {
		req.Answer(nil, nil, a.last)
		return
	}
	next := a.rec
	nl := *l
	nl.Enlisted = true
	next.Lease = &nl
	d, err := a.persist(next, nil)
	req.Answer(nil, err, d)
}

// inDoubt is the refusal of a lease in doubt to anyone but the
// coordinator it voted for.
func (a *keyActor) inDoubt(l *leaseRec) error {
	return a.rec.fail(ErrInDoubt, "prepared by the coordinator of backend "+l.PreparedBy+"; only its decision settles this key")
}

func (a *keyActor) dropOrigin(txnID string) { a.svc.origins.drop(txnID, a.ref) }

// Origin returns the key whose acquire minted txnID, while its lease lives
// on this node.
func (s *Service) Origin(txnID string) (Ref, bool) {
	return s.origins.lookup(txnID, s.clock.Now())
}

// PrepareTxn reports whether ref still holds a live lease of txnID, asked
// by by (OwnTC, OperatorTC or another island's backend hash). A yes to
// another island's coordinator is durable and puts the lease in doubt:
// it then answers yes to that coordinator only (also once lapsed), and
// ErrInDoubt to this island's own.
func (s *Service) PrepareTxn(ctx context.Context, ref Ref, txnID, by string) error {
	_, err := s.call(ctx, ref, &opPrepare{txnID: txnID, by: by})
	return err
}

// ApplyTxn commits or rolls back what txnID staged on ref and releases the
// lease, for the decider by (as in PrepareTxn). It reports whether there
// was anything to apply. A lease in doubt refuses (ErrInDoubt) every
// decider but the coordinator it voted for and an operator.
func (s *Service) ApplyTxn(ctx context.Context, ref Ref, txnID string, commit bool, by string) (bool, error) {
	v, err := s.call(ctx, ref, &opApply{txnID: txnID, commit: commit, by: by})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// Enlist marks ref's lease of txnID as part of a multi-participant
// transaction.
func (s *Service) Enlist(ctx context.Context, ref Ref, txnID string) error {
	_, err := s.call(ctx, ref, &opEnlist{txnID: txnID})
	return err
}

// RebuildOrigins restores, after a restart, which key minted each live
// transaction: the origin map is in memory only, and a key acquired before
// the restart must still be enlisted when another key joins its
// transaction afterwards. It reads every key record in one pass, so it only
// runs on stores with an engine scan (disk, mem); it reports false when the
// store has none (object stores: joiners of a transaction minted before the
// restart then cannot enlist its origin, whose release decides alone).
func (s *Service) RebuildOrigins(ctx context.Context) (bool, error) {
	sc, ok := s.st.(store.Scanner)
	if !ok {
		return false, nil
	}
	nss, err := s.Namespaces(ctx)
	if err != nil {
		return true, err
	}
	now := s.clock.Now()
	for _, ns := range nss {
		prefix := ns + "/k/"
		err := sc.Scan(ctx, prefix, "", 0, func(k string, rec store.Record) error {
			r, err := decodeRecord(rec.Value)
			if err != nil {
				return nil // a corrupt record surfaces when its key is used
			}
			if l := r.live(now); l != nil && !l.Enlisted {
				s.origins.put(l.Txn, Ref{Namespace: ns, Key: strings.TrimPrefix(k, prefix)}, l.expiresAt(), now, true)
			}
			return nil
		})
		if err != nil {
			return true, fmt.Errorf("%w: rebuild origins: %w", ErrUnavailable, err)
		}
	}
	return true, nil
}
