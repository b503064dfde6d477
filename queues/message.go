package queues

import "time"

// Delivery is a message handed to a consumer: its metadata and a way to
// read its payload.
type Delivery struct {
	Message
	inline []byte // the payload when it is kept in the record
	blob   string // else the payload blob
	svc    *Service
}

// message is e's metadata as seen from ref's lane.
func message(ref Ref, e *entry) Message {
	r := &e.rec
	m := Message{
		Ref: ref, ID: r.ID, Attempts: r.Attempts, FailureAttempts: r.Failures, MaxAttempts: r.MaxAttempts,
		EnqueuedAt: unixTime(r.EnqueuedAt), NotVisibleUntil: unixTime(r.VisibleAt),
		Visibility: time.Duration(r.Visibility), ExpiresAt: unixTime(r.ExpiresAt),
		Attributes: r.Attributes, ContentType: r.ContentType, Size: r.Size,
		CorrelationID: r.CorrelationID, LastError: r.LastError, MetaETag: e.etag,
	}
	if l := r.Lease; l != nil {
		m.Owner, m.LeaseID, m.TxnID = l.Owner, l.ID, l.Txn
		m.LeaseExpires, m.Fencing = unixTime(l.Expires), l.Fencing
		m.Visibility = time.Duration(l.Visibility)
	}
	if d := r.Dead; d != nil {
		m.DeadReason, m.DeadAt = d.Reason, unixTime(d.At)
	}
	return m
}
