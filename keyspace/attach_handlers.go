package keyspace

import "time"

// Attachment operations sent to the key actor.
type (
	opAttach struct {
		LeaseProof
		att              *attachment
		preventOverwrite bool
	}
	opDetach struct {
		LeaseProof
		name, id string
	}
	opDetachAll   struct{ LeaseProof }
	opAttachments struct {
		public bool
		LeaseProof
	}
)

// AttachResult reports a staged upload. Noop is set when PreventOverwrite
// found an attachment of that name (the upload was discarded).
type AttachResult struct {
	Attachment Attachment
	Noop       bool
	Version    int64
}

func (a *keyActor) attach(now time.Time, req *request, op *opAttach) {
	delete(a.pending, op.att.Blob)
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	if op.preventOverwrite {
		if cur := a.rec.holderAttachments()[op.att.Name]; cur != nil {
			v, _ := a.rec.holderVersion()
			req.Answer(AttachResult{Attachment: cur.public(), Noop: true, Version: v}, nil, a.last)
			return
		}
	}
	next, garbage := a.rec.stageAttach(op.att)
	d, err := a.persist(next, garbage)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(AttachResult{Attachment: op.att.public(), Version: next.Staged.Version}, nil, d)
}

func (a *keyActor) detach(now time.Time, req *request, op *opDetach) {
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	found := findAttachment(a.rec.holderAttachments(), op.name, op.id)
	if found == nil {
		v, _ := a.rec.holderVersion()
		req.Answer(DetachResult{Deleted: 0, Version: v}, nil, a.last)
		return
	}
	next, garbage := a.rec.stageDetach(found.Name)
	d, err := a.persist(next, garbage)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(DetachResult{Deleted: 1, Version: next.Staged.Version}, nil, d)
}

func (a *keyActor) detachAll(now time.Time, req *request, op *opDetachAll) {
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	n := len(a.rec.holderAttachments())
	next, garbage := a.rec.stageDetachAll()
	d, err := a.persist(next, garbage)
	if err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(DetachResult{Deleted: n, Version: next.Staged.Version}, nil, d)
}

func (a *keyActor) listAttachments(now time.Time, req *request, op *opAttachments) {
	if op.public {
		req.Answer(sortedAttachments(a.rec.Attachments), nil, a.last)
		return
	}
	if err := a.checkWrite(now, op.LeaseProof); err != nil {
		req.Answer(nil, err, nil)
		return
	}
	req.Answer(sortedAttachments(a.rec.holderAttachments()), nil, a.last)
}

// DetachResult reports staged attachment deletions.
type DetachResult struct {
	Deleted int
	Version int64
}
