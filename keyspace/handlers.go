package keyspace

import (
	"errors"
	"time"
)

// Internal operations sent to the key actor. The service fills ids and
// resolves TTLs before sending, so the actor never mints randomness.
type (
	opAcquire struct {
		AcquireRequest
		leaseID, txnID string
	}
	opKeepAlive struct{ KeepAliveRequest }
	opRelease   struct{ ReleaseRequest }
	opGet       struct{ GetRequest }
	// opCheck validates a proof and preconditions before a large upload;
	// the upload's blob is pending (safe from the sweeper) until it is
	// staged or forgotten.
	opCheck struct {
		LeaseProof
		IfVersion *int64
		IfETag    string
		blob      string
	}
	// opForget drops a pending upload that failed.
	opForget struct{ blob string }
	opStage  struct {
		UpdateRequest
		inline []byte
		blob   string
	}
	opRemove   struct{ RemoveRequest }
	opMetadata struct{ MetadataRequest }
	opDescribe struct{}
	// opCancel withdraws a blocked acquire whose caller gave up.
	opCancel struct{ target *request }
	// opQueued reports the number of blocked acquirers.
	opQueued struct{}
)

func (a *keyActor) dispatch(req *request) {
	now := a.now()
	switch op := req.Op.(type) {
	case *opAcquire:
		a.acquire(now, req, op)
	case *opKeepAlive:
		a.keepAlive(now, req, op)
	case *opRelease:
		a.release(now, req, op)
	case *opGet:
		a.get(now, req, op)
	case *opCheck:
		if err := a.checkWrite(now, op.LeaseProof); err != nil {
			req.Answer(nil, err, nil)
			return
		}
		if err := a.rec.cas(op.IfVersion, op.IfETag); err != nil {
			req.Answer(nil, err, nil)
			return
		}
		a.addPending(op.blob)
		req.Answer(nil, nil, nil)
	case *opForget:
		delete(a.pending, op.blob)
		req.Answer(nil, nil, nil)
	case *opStage:
		a.stage(now, req, op)
	case *opRemove:
		a.remove(now, req, op)
	case *opMetadata:
		a.metadata(now, req, op)
	case *opDescribe:
		req.Answer(a.rec.describe(a.ref), nil, a.last)
	case *opAttach:
		a.attach(now, req, op)
	case *opDetach:
		a.detach(now, req, op)
	case *opDetachAll:
		a.detachAll(now, req, op)
	case *opAttachments:
		a.listAttachments(now, req, op)
	case *opPrepare:
		a.prepare(now, req, op)
	case *opApply:
		a.apply(now, req, op)
	case *opEnlist:
		a.enlist(now, req, op)
	case *opSweep:
		a.sweep(now, req, op)
	case *opQueued:
		req.Answer(len(a.waiters), nil, nil)
	case *opCancel:
		if a.removeWaiter(op.target) {
			op.target.Answer(nil, ErrUnavailable, nil)
		}
		req.Answer(nil, nil, nil)
	default:
		req.Answer(nil, errors.New("keyspace: unknown operation"), nil)
	}
}

func (a *keyActor) acquire(now time.Time, req *request, op *opAcquire) {
	a.settle(now)
	awaits := a.awaitsDecision(now)
	if a.rec.live(now) == nil && len(a.waiters) > 0 && !awaits {
		a.handoff(now, a.rec, nil, false) // a failed write left waiters behind
	}
	if op.IfNotExists && a.rec.exists(now) {
		req.Answer(nil, a.rec.fail(ErrAlreadyExists, "key already exists"), a.last)
		return
	}
	if a.rec.live(now) != nil || len(a.waiters) > 0 || awaits {
		if op.Wait <= 0 {
			req.Answer(nil, a.waiting(now), nil)
			return
		}
		a.enqueue(req, op)
		return
	}
	next := a.rec.grant(now, op.Owner, op.leaseID, op.txnID, op.TTL, op.Enlist)
	d, err := a.persist(next, nil)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if op.TxnID == "" { // minted here: remember where, for joiners
		a.svc.origins.put(op.txnID, a.ref, next.Lease.expiresAt(), now, false)
	}
	leasesAcquired.Inc()
	req.Answer(a.lease(op), nil, d)
}

// checkProof verifies a proof; an expired lease is settled (dropped and
// handed on) before the error is returned.
func (a *keyActor) checkProof(now time.Time, p LeaseProof) error {
	err := a.rec.check(now, p)
	if errors.Is(err, ErrLeaseExpired) {
		a.settle(now)
	}
	return err
}

// checkWrite is checkProof for operations that must name the transaction.
func (a *keyActor) checkWrite(now time.Time, p LeaseProof) error {
	if err := a.checkProof(now, p); err != nil {
		return err
	}
	if p.TxnID == "" {
		return a.rec.fail(ErrMissingTxn, "transaction id required")
	}
	return nil
}

func (a *keyActor) keepAlive(now time.Time, req *request, op *opKeepAlive) {
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	next := a.rec
	l := *next.Lease
	l.Expires = now.Add(op.TTL).UnixNano()
	next.Lease = &l
	d, err := a.persist(next, nil)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	a.svc.origins.extend(l.Txn, a.ref, l.expiresAt())
	leasesKept.Inc()
	req.Answer(l.expiresAt(), nil, d)
}

// release commits or rolls back. Like lockd v0.9 it is idempotent: a proof
// that does not match the current lease answers released without touching
// the real holder — unless it asks to commit writes that are known to be
// lost (its lease expired, or its transaction rolled back), which fails.
// A transaction mismatch is an error; an enlisted lease is decided by the
// transaction coordinator (ErrEnlisted).
func (a *keyActor) release(now time.Time, req *request, op *opRelease) {
	l := a.rec.Lease
	switch {
	case l == nil || l.ID != op.LeaseID || l.Fencing != op.Fencing:
		if err := a.rec.pastRelease(op.LeaseProof, op.Rollback); err != nil {
			req.Answer(nil, err, nil)
			return
		}
		req.Answer(true, nil, a.last)
		return
	case op.TxnID != "" && op.TxnID != l.Txn:
		req.Answer(nil, a.rec.fail(ErrTxnMismatch, "txn_id does not match the lease's transaction"), nil)
		return
	case a.enlisted(l):
		req.Answer(nil, ErrEnlisted, nil)
		return
	case a.rec.expired(now):
		a.settle(now)
		a.release(now, req, op) // now a past lease
		return
	}
	a.dropOrigin(l.Txn)
	committing := !op.Rollback && a.rec.Staged != nil
	next, garbage := a.rec.commit(now)
	if op.Rollback {
		next, garbage = a.rec.dropLease("rollback")
	}
	d, err := a.handoff(now, next, garbage, false)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	leasesReleased.Inc()
	if committing {
		a.notify(d)
	}
	req.Answer(true, nil, d)
}

func (a *keyActor) get(now time.Time, req *request, op *opGet) {
	if op.Public {
		req.Answer(a.rec.committedView(), nil, a.last)
		return
	}
	if err := a.checkProof(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(a.rec.holderView(), nil, a.last)
}

func (a *keyActor) stage(now time.Time, req *request, op *opStage) {
	delete(a.pending, op.blob)
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if err := a.rec.cas(op.IfVersion, op.IfETag); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	next, garbage := a.rec.stageState(op.inline, op.blob, op.Size, op.ETag, op.Hidden)
	d, err := a.persist(next, garbage)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	res := UpdateResult{NewVersion: next.Staged.Version, NewETag: op.ETag, Bytes: op.Size, Hidden: next.hidden()}
	req.Answer(res, nil, d)
}

func (a *keyActor) remove(now time.Time, req *request, op *opRemove) {
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if err := a.rec.cas(op.IfVersion, op.IfETag); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if !a.rec.hasAnyState() {
		v, _ := a.rec.holderVersion()
		req.Answer(RemoveResult{Removed: false, NewVersion: v}, nil, a.last)
		return
	}
	next, garbage := a.rec.stageRemove()
	d, err := a.persist(next, garbage)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(RemoveResult{Removed: true, NewVersion: next.Staged.Version}, nil, d)
}

func (a *keyActor) metadata(now time.Time, req *request, op *opMetadata) {
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if err := a.rec.cas(op.IfVersion, ""); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	next := a.rec
	next.Staged = next.staging()
	if op.Hidden != nil {
		next = next.stageHidden(*op.Hidden)
	}
	d, err := a.persist(next, nil)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(MetadataResult{Version: next.Staged.Version, Hidden: next.hidden()}, nil, d)
}
