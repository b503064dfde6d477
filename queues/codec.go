package queues

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/lockdhq/lockd/internal/bincodec"
	"github.com/lockdhq/lockd/store"
)

// Message records are written on every enqueue, delivery, nack and
// extend, so they are stored in a compact binary form (codecV1), as key
// records are; encoding/json cost as much as the rest of the actor's turn.
// Records written by earlier builds in JSON ('{' first) are still read.

const codecV1 = 0xB1

// errCorrupt is the class of undecodable records: store.ErrCorrupt.
var errCorrupt = fmt.Errorf("queues: %w", store.ErrCorrupt)

// Presence bits of the record header.
const (
	hasLease = 1 << iota
	hasDead
)

func (r *record) encode() ([]byte, error) {
	return r.appendTo(make([]byte, 0, 160+len(r.Inline)+len(r.Attributes)+len(r.LastError))), nil
}

func (r *record) appendTo(b []byte) []byte {
	b = append(b, codecV1)
	var flags uint64
	if r.Lease != nil {
		flags |= hasLease
	}
	if r.Dead != nil {
		flags |= hasDead
	}
	b = binary.AppendUvarint(b, flags)
	b = bincodec.AppendStr(b, r.ID)
	for _, v := range []int64{r.EnqueuedAt, r.VisibleAt, r.Visibility, r.ExpiresAt,
		int64(r.MaxAttempts), int64(r.Attempts), int64(r.Failures), r.Size} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, r.Fencing)
	b = bincodec.AppendStr(b, r.CorrelationID)
	b = bincodec.AppendBytes(b, r.Attributes)
	b = bincodec.AppendStr(b, r.ContentType)
	b = bincodec.AppendBytes(b, r.Inline)
	b = bincodec.AppendStr(b, r.Blob)
	b = bincodec.AppendBytes(b, r.LastError)
	if l := r.Lease; l != nil {
		b = bincodec.AppendStr(bincodec.AppendStr(bincodec.AppendStr(b, l.ID), l.Owner), l.Txn)
		b = binary.AppendVarint(b, l.Expires)
		b = binary.AppendUvarint(b, l.Fencing)
		b = binary.AppendVarint(b, l.Visibility)
	}
	if d := r.Dead; d != nil {
		b = binary.AppendVarint(bincodec.AppendStr(b, d.Reason), d.At)
	}
	return b
}

func decodeRecord(b []byte) (record, error) {
	if len(b) > 0 && b[0] == '{' {
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return record{}, fmt.Errorf("%w: %w", errCorrupt, err)
		}
		return r, nil
	}
	if len(b) == 0 || b[0] != codecV1 {
		return record{}, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := &bincodec.Decoder{B: b[1:], Corrupt: errCorrupt}
	var r record
	flags := d.Uvarint()
	r.ID = d.Str()
	r.EnqueuedAt, r.VisibleAt, r.Visibility, r.ExpiresAt = d.Varint(), d.Varint(), d.Varint(), d.Varint()
	r.MaxAttempts, r.Attempts, r.Failures = int(d.Varint()), int(d.Varint()), int(d.Varint())
	r.Size, r.Fencing = d.Varint(), d.Uvarint()
	r.CorrelationID, r.Attributes, r.ContentType = d.Str(), d.Bytes(), d.Str()
	r.Inline, r.Blob, r.LastError = d.Bytes(), d.Str(), d.Bytes()
	if flags&hasLease != 0 {
		l := &leaseRec{ID: d.Str(), Owner: d.Str(), Txn: d.Str()}
		l.Expires, l.Fencing, l.Visibility = d.Varint(), d.Uvarint(), d.Varint()
		r.Lease = l
	}
	if flags&hasDead != 0 {
		r.Dead = &deadRec{Reason: d.Str(), At: d.Varint()}
	}
	if err := d.Finish(); err != nil {
		return record{}, err
	}
	return r, nil
}
