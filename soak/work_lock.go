package soak

import (
	"context"
	"strconv"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// acquire takes a lease and returns the session and its (not yet
// recorded) grant op; the caller sets EndCall and records it.
func (t *traffic) acquire(ctx context.Context, w *worker, key, txnID string, ttl time.Duration, block int64) (*sdk.LeaseSession, Op, error) {
	secs := max(int64(ttl/time.Second), 1) // the wire counts whole seconds
	op := Op{Kind: KindAcquire, Worker: w.id, Key: key, TTL: time.Duration(secs) * time.Second, Call: t.rec.Now()}
	sess, err := t.clientFor(key).Acquire(ctx, api.AcquireRequest{Key: key, Owner: "soak-" + strconv.Itoa(w.id), TTLSeconds: secs,
		BlockSeconds: block, TxnID: txnID}, sdk.WithoutKeepAlive())
	op.Return = t.rec.Now()
	op.set(err)
	if err != nil {
		t.rec.Add(op)
		return nil, op, err
	}
	op.Token, op.LeaseID, op.TxnID = sess.FencingToken, sess.LeaseID, sess.TxnID
	return sess, op, nil
}

// leaseGet reads a key's state under its lease (nothing staged yet: the
// committed value) and records it.
func (t *traffic) leaseGet(ctx context.Context, w *worker, sess *sdk.LeaseSession) (Val, Op, error) {
	op := Op{Kind: KindLeaseGet, Worker: w.id, Key: sess.Key, Call: t.rec.Now()}
	gr, err := sess.Get(ctx)
	return t.recordRead(op, gr, err)
}

// recordRead decodes a read's answer into the counter value, completes op
// (its Call set before the request) and records it.
func (t *traffic) recordRead(op Op, gr *sdk.GetResponse, err error) (Val, Op, error) {
	var v Val
	if err == nil {
		var b []byte
		if b, err = gr.Bytes(); err == nil {
			v, err = decodeVal(b)
		}
	}
	op.Return = t.rec.Now()
	op.set(err)
	if err == nil {
		op.Read = &v
	}
	t.rec.Add(op)
	return v, op, err
}

// rollback ends a lease without committing; its outcome does not matter
// to the checkers (staged writes of a lease that is never released are
// discarded when it expires).
func (t *traffic) rollback(ctx context.Context, grant *Op, sess *sdk.LeaseSession) error {
	if grant.EndCall == 0 {
		grant.EndCall = t.rec.Now()
	}
	return sess.Rollback(ctx)
}

// cycle is one lock cycle on key: acquire (block seconds, or no wait),
// read the counter under the lease, stage n+1 and release (commit), or
// now and then roll back. With hold > 0 it is a slow holder: it keeps the
// lease for hold between its read and its commit, and always commits. It
// reports whether some answer was uncertain.
func (t *traffic) cycle(ctx context.Context, w *worker, key string, block int64, hold time.Duration) bool {
	sess, grant, err := t.acquire(ctx, w, key, "", t.p.TTL+hold, block)
	if err != nil {
		return grant.Outcome == Unknown
	}
	defer func() { t.rec.Add(grant) }()
	old, rd, err := t.leaseGet(ctx, w, sess)
	if err != nil {
		t.rollback(ctx, &grant, sess)
		return rd.Outcome == Unknown
	}
	tag := "c"
	if hold > 0 {
		sleepCtx(ctx, hold)
		tag = "s"
	}
	nv := Val{N: old.N + 1, W: w.tag(tag)}
	op := Op{Kind: KindCycle, Worker: w.id, Key: key, Old: []Val{old}, New: []Val{nv}, Call: rd.Call,
		Token: grant.Token, LeaseID: grant.LeaseID}
	if _, err := sess.UpdateBytes(ctx, t.encode(nv)); err != nil {
		// Nothing is released, so nothing commits: the staged value (if
		// the stage landed) must never become visible.
		op.Kind = KindRollback
		op.set(t.rollback(ctx, &grant, sess))
		op.Return = t.rec.Now()
		t.rec.Add(op)
		o, _ := classify(err)
		return o == Unknown
	}
	grant.EndCall = t.rec.Now()
	if hold == 0 && w.rng.Float64() < t.p.RollbackRatio {
		op.Kind = KindRollback
		err = sess.Rollback(ctx)
	} else {
		err = sess.Release(ctx)
	}
	op.Return = t.rec.Now()
	op.set(err)
	t.rec.Add(op)
	return op.Outcome == Unknown
}

// zombie is a client whose clock jumped (or whose process paused): it
// takes a 1s lease and reads, then sleeps past the lease's expiry, and
// only then stages and commits. Meanwhile a successor blocks on the key,
// gets it when the zombie's lease expires, and holds it across the
// zombie's late commit before committing its own increment. The server
// must refuse the zombie; the checkers see any late write that lands.
// The sleeps are the injected fault.
func (t *traffic) zombie(ctx context.Context, w, succ *worker, key string, pause time.Duration) {
	sess, grant, err := t.acquire(ctx, w, key, "", time.Second, int64(t.p.Block/time.Second))
	if err != nil {
		return
	}
	defer func() { t.rec.Add(grant) }()
	old, rd, err := t.leaseGet(ctx, w, sess)
	if err != nil {
		t.rollback(ctx, &grant, sess)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.cycle(ctx, succ, key, int64((pause+2*time.Second)/time.Second), pause)
	}()
	defer func() { <-done }()
	sleepCtx(ctx, pause)
	nv := Val{N: old.N + 1, W: w.tag("z")}
	op := Op{Kind: KindZombie, Worker: w.id, Key: key, Old: []Val{old}, New: []Val{nv}, Call: rd.Call,
		Token: grant.Token, LeaseID: grant.LeaseID}
	grant.EndCall = t.rec.Now()
	if _, err = sess.UpdateBytes(ctx, t.encode(nv)); err == nil {
		err = sess.Release(ctx)
		op.set(err)
	} else {
		// No release was sent, so nothing can commit (a stage that
		// landed dies with the lease): a definite failure.
		op.set(err)
		op.Outcome = Fail
		sess.Rollback(ctx)
	}
	op.Return = t.rec.Now()
	t.rec.Add(op)
}

// read is a public read of a random key's committed state.
func (t *traffic) read(ctx context.Context, w *worker) bool {
	key := t.keys[w.rng.IntN(len(t.keys))]
	op := Op{Kind: KindRead, Worker: w.id, Key: key, Call: t.rec.Now()}
	gr, err := t.clientFor(key).Get(ctx, key)
	_, op, _ = t.recordRead(op, gr, err)
	return op.Outcome == Unknown
}

// query selects counter documents with LQL and records the values seen
// (for the dirty-read check; queries are not linearizable reads).
func (t *traffic) query(ctx context.Context, w *worker) bool {
	op := Op{Kind: KindQuery, Worker: w.id, Key: `/kind="ctr"`, Call: t.rec.Now()}
	res, err := t.cli.Query(ctx, sdk.QueryRequest{LQL: `/kind="ctr"`, Return: api.QueryReturnDocuments, Limit: 100})
	if err == nil {
		err = res.ForEach(func(row sdk.QueryRow) error {
			v, err := decodeVal(row.Doc)
			if err == nil {
				op.Keys = append(op.Keys, row.Key)
				op.Reads = append(op.Reads, v)
			}
			return err
		})
		res.Close()
	}
	op.Return = t.rec.Now()
	op.set(err)
	t.rec.Add(op)
	return op.Outcome == Unknown
}
