package keyspace

import (
	"time"
)

// The functions in this file are the key's pure logic: they read a record
// and return the next one, with no I/O, no actors and no clock reads.

// live returns the lease when it is held and unexpired at now.
func (r *record) live(now time.Time) *leaseRec {
	if r.Lease == nil || !now.Before(r.Lease.expiresAt()) {
		return nil
	}
	return r.Lease
}

// expired reports whether a lease exists but has run out at now.
func (r *record) expired(now time.Time) bool {
	return r.Lease != nil && !now.Before(r.Lease.expiresAt())
}

// exists reports whether the key counts as initialized for if_not_exists:
// it has committed state at some point, or someone holds its lease now.
func (r *record) exists(now time.Time) bool {
	return r.Version > 0 || r.live(now) != nil
}

// dropLease clears the lease and discards staged writes, remembering why
// (outcome, see endedRec); it returns the blobs that become garbage.
func (r record) dropLease(outcome string) (record, []string) {
	r.Ended = r.ending(outcome)
	var garbage []string
	if r.Staged != nil {
		if r.Staged.Blob != "" {
			garbage = append(garbage, r.Staged.Blob)
		}
		garbage = append(garbage, r.Staged.attachmentBlobs()...)
	}
	r.Lease, r.Staged = nil, nil
	return r, garbage
}

// grant gives a new lease; the caller checked the key is free.
func (r record) grant(now time.Time, owner, leaseID, txn string, ttl time.Duration, enlisted bool) record {
	if !unsafeReuseFencing || r.Fencing == 0 { // TEST ONLY: see unsafe.go
		r.Fencing++
	}
	r.Lease = &leaseRec{ID: leaseID, Owner: owner, Txn: txn, Expires: now.Add(ttl).UnixNano(), Fencing: r.Fencing, Enlisted: enlisted}
	r.Staged = nil
	return r
}

func (r *record) ending(outcome string) *endedRec {
	if r.Lease == nil {
		return r.Ended
	}
	return &endedRec{ID: r.Lease.ID, Outcome: outcome, Staged: r.Staged != nil}
}

// pastRelease answers the release of a lease that is no longer current:
// idempotent success, unless it asks to commit writes that were discarded.
func (r *record) pastRelease(p LeaseProof, rollback bool) error {
	e := r.Ended
	if rollback || e == nil || e.ID != p.LeaseID {
		return nil
	}
	switch {
	case e.Outcome == "expired" && e.Staged:
		return r.fail(ErrLeaseExpired, "lease expired before release; its staged changes were discarded")
	case e.Outcome == "aborted":
		return r.fail(ErrAborted, "the lease's transaction rolled back")
	}
	return nil
}

// check verifies a lease proof at now.
func (r *record) check(now time.Time, p LeaseProof) error {
	l := r.Lease
	if unsafeSkipLeaseCheck && l != nil { // TEST ONLY: see unsafe.go
		return nil
	}
	switch {
	case l == nil || l.ID != p.LeaseID:
		return r.fail(ErrLeaseRequired, "lease not held")
	case !now.Before(l.expiresAt()):
		return r.fail(ErrLeaseExpired, "lease expired")
	case l.Fencing != p.Fencing:
		return r.fail(ErrFencingMismatch, "fencing token does not match the lease")
	case p.TxnID != "" && p.TxnID != l.Txn:
		return r.fail(ErrTxnMismatch, "txn_id does not match the lease's transaction")
	}
	return nil
}

// view returns the holder's view of version and etag: staged values when
// its transaction staged state, committed ones otherwise.
func (r *record) holderVersion() (int64, string) {
	if s := r.Staged; s != nil {
		if s.Removed {
			return s.Version, ""
		}
		if s.ETag != "" {
			return s.Version, s.ETag
		}
	}
	return r.Version, r.ETag
}

// cas checks optional version and etag preconditions against the holder's
// view.
func (r *record) cas(ifVersion *int64, ifETag string) error {
	v, tag := r.holderVersion()
	if ifVersion != nil && *ifVersion != v {
		e := r.fail(ErrVersionConflict, "state version mismatch")
		e.CurrentVersion = v
		return e
	}
	if ifETag != "" && trimQuotes(ifETag) != tag {
		e := r.fail(ErrETagMismatch, "current state etag does not match")
		e.CurrentETag = tag
		return e
	}
	return nil
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// staging returns a copy of the staged record for the lease's transaction,
// creating it at committed version + 1.
func (r *record) staging() *stagedRec {
	if r.Staged != nil {
		s := *r.Staged
		return &s
	}
	return &stagedRec{Txn: r.Lease.Txn, Version: r.Version + 1}
}

// stageState stages a new state body (inline or blob); it returns the
// replaced staged blob, if any, as garbage.
func (r record) stageState(inline []byte, blob string, size int64, etag string, hidden *bool) (record, []string) {
	s := r.staging()
	var garbage []string
	if s.Blob != "" && s.Blob != blob {
		garbage = append(garbage, s.Blob)
	}
	s.Removed = false
	s.ETag, s.State, s.Blob, s.Size = etag, inline, blob, size
	if hidden != nil {
		s.Hidden = hidden
	}
	r.Staged = s
	return r, garbage
}

// stageRemove stages the removal of the state. Like lockd v0.9, a removal
// bumps the staged version again.
func (r record) stageRemove() (record, []string) {
	v, _ := r.holderVersion()
	s := r.staging()
	var garbage []string
	if s.Blob != "" {
		garbage = append(garbage, s.Blob)
	}
	s.Version = v + 1
	s.Removed = true
	s.ETag, s.State, s.Blob, s.Size = "", nil, "", 0
	r.Staged = s
	return r, garbage
}

// hasAnyState reports whether the holder sees a state to remove.
func (r *record) hasAnyState() bool {
	if s := r.Staged; s != nil {
		if s.Removed {
			return false
		}
		if s.ETag != "" {
			return true
		}
	}
	return r.ETag != ""
}

// stageHidden stages the query_hidden attribute.
func (r record) stageHidden(hidden bool) record {
	s := r.staging()
	s.Hidden = &hidden
	r.Staged = s
	return r
}

// hidden is the holder's view of query_hidden.
func (r *record) hidden() bool {
	if r.Staged != nil && r.Staged.Hidden != nil {
		return *r.Staged.Hidden
	}
	return r.Hidden
}

// commit publishes staged writes and ends the lease. It returns blobs that
// are garbage once the new record is durable.
func (r record) commit(now time.Time) (record, []string) {
	s := r.Staged
	r.Ended = r.ending("commit")
	r.Lease, r.Staged = nil, nil
	if s == nil {
		return r, nil
	}
	var garbage []string
	if s.Removed || s.ETag != "" {
		if r.Blob != "" && r.Blob != s.Blob {
			garbage = append(garbage, r.Blob)
		}
		r.ETag, r.State, r.Blob, r.Size = s.ETag, s.State, s.Blob, s.Size
	}
	if s.Hidden != nil {
		r.Hidden = *s.Hidden
	}
	var dropped []string
	r.Attachments, dropped = commitAttachments(r.Attachments, s)
	garbage = append(garbage, dropped...)
	r.Version = s.Version
	r.UpdatedAt = now.Unix()
	return r, garbage
}

// committedView is what public readers see.
func (r *record) committedView() View {
	if r.ETag == "" {
		return View{NoState: true, Version: r.Version, Hidden: r.Hidden}
	}
	return View{Version: r.Version, ETag: r.ETag, Size: r.Size, Hidden: r.Hidden, Inline: r.State, blob: r.Blob}
}

// holderView is what the lease holder sees.
func (r *record) holderView() View {
	v := r.committedView()
	if s := r.Staged; s != nil {
		switch {
		case s.Removed:
			v = View{NoState: true, Version: s.Version}
		case s.ETag != "":
			v = View{Version: s.Version, ETag: s.ETag, Size: s.Size, Inline: s.State, blob: s.Blob}
		}
	}
	v.Hidden = r.hidden()
	v.Fencing = r.Lease.Fencing
	return v
}

func (r *record) describe(ref Ref) Description {
	d := Description{Ref: ref, Version: r.Version, ETag: r.ETag, Hidden: r.Hidden}
	if r.UpdatedAt > 0 {
		d.UpdatedAt = time.Unix(r.UpdatedAt, 0)
	}
	if l := r.Lease; l != nil {
		d.Owner, d.LeaseID, d.ExpiresAt = l.Owner, l.ID, l.expiresAt()
	}
	return d
}
