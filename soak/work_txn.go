package soak

import (
	"context"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// txn increments every key of one group in a single transaction: acquire
// the keys in order (joining the first lease's txn_id), read them under
// the leases, stage n+1 with one writer id on each, and commit by
// releasing one participant. It reports whether an answer was uncertain.
func (t *traffic) txn(ctx context.Context, w *worker) bool {
	group := t.lay.Groups[w.rng.IntN(len(t.lay.Groups))]
	var (
		sessions []*sdk.LeaseSession
		grants   []Op
		txnID    string
	)
	defer func() {
		for _, g := range grants {
			t.rec.Add(g)
		}
	}()
	// A cross-island group's first key is on island A, whose coordinator
	// decides: its release commits, after B's keys are enlisted there.
	island := t.island != nil && t.lay.Island[group[0]]
	abort := func(uncertain bool) bool {
		now := t.rec.Now()
		for i := range grants {
			if grants[i].EndCall == 0 {
				grants[i].EndCall = now
			}
		}
		if len(sessions) > 0 {
			sessions[0].Rollback(ctx) // rolls back the whole transaction
		}
		if island && len(sessions) > 1 {
			// B's keys not yet enlisted at A are B's own to roll back.
			for _, s := range sessions[1:] {
				s.Rollback(ctx)
			}
		}
		return uncertain
	}
	for _, key := range group {
		sess, g, err := t.acquire(ctx, w, key, txnID, t.p.TTL, int64(t.p.Block.Seconds()))
		if err != nil {
			return abort(g.Outcome == Unknown)
		}
		sessions, grants, txnID = append(sessions, sess), append(grants, g), sess.TxnID
	}
	op := Op{Kind: KindTxn, Worker: w.id, Keys: group, TxnID: txnID}
	for i, sess := range sessions {
		v, rd, err := t.leaseGet(ctx, w, sess)
		if err != nil {
			return abort(rd.Outcome == Unknown)
		}
		if i == 0 {
			op.Call = rd.Call
		}
		op.Reads = append(op.Reads, v)
	}
	// rollback records op as rolled back by err and aborts.
	rollback := func(err error) bool {
		o, _ := classify(err)
		rb := op
		rb.Kind = KindRollback
		rb.Return = t.rec.Now()
		rb.set(err)
		t.rec.Add(rb)
		return abort(o == Unknown)
	}
	tag := w.tag("t")
	for i, sess := range sessions {
		nv := Val{N: op.Reads[i].N + 1, W: tag}
		op.Old, op.New = append(op.Old, op.Reads[i]), append(op.New, nv)
		if _, err := sess.UpdateBytes(ctx, t.encode(nv)); err != nil {
			return rollback(err)
		}
	}
	committer := sessions[len(sessions)-1]
	if island {
		if err := t.enlistAtA(ctx, txnID, group[1:]); err != nil {
			return rollback(err)
		}
		committer = sessions[0]
	}
	end := t.rec.Now()
	for i := range grants {
		grants[i].EndCall = end
	}
	err := committer.Release(ctx)
	op.Return = t.rec.Now()
	op.set(err)
	t.rec.Add(op)
	return op.Outcome == Unknown
}

// enlistAtA records island B's keys as participants of txnID at island
// A's coordinator (a pending decision naming them with B's backend hash,
// as `lockd txn prepare -p ns:key@HASH` does), so that A's commit
// prepares them and fans its decision out to them.
func (t *traffic) enlistAtA(ctx context.Context, txnID string, keysB []string) error {
	parts := make([]api.TxnParticipant, 0, len(keysB))
	for _, k := range keysB {
		parts = append(parts, api.TxnParticipant{Namespace: t.lay.Namespace, Key: k, BackendHash: t.islandB})
	}
	_, err := t.island.TxnPrepare(ctx, api.TxnDecisionRequest{TxnID: txnID, Participants: parts})
	return err
}
