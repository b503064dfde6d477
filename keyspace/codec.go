package keyspace

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/lockdhq/lockd/internal/bincodec"
	"github.com/lockdhq/lockd/store"
)

// The key record is stored in a compact binary form (codecV1) because it is
// written on every lease and state operation: encoding/json spent more time
// re-validating the inline state than the store spent writing it. Records
// written by earlier builds in JSON ('{' first) are still read.

const codecV1 = 0xB1

// errCorrupt is the class of undecodable records: store.ErrCorrupt.
var errCorrupt = fmt.Errorf("keyspace: %w", store.ErrCorrupt)

// Presence bits of the record header.
const (
	hasLease = 1 << iota
	hasStaged
	hasEnded
	hasHidden
	hasAttachments
	hasPreparedBy // the lease's PreparedBy follows Enlisted
)

// encode returns the record's binary form.
func (r *record) encode() ([]byte, error) {
	return r.appendTo(make([]byte, 0, 96+len(r.State)+r.stagedLen())), nil
}

// appendTo appends the record's binary form to b.
func (r *record) appendTo(b []byte) []byte {
	b = append(b, codecV1)
	var flags uint64
	if r.Lease != nil {
		flags |= hasLease
	}
	if r.Staged != nil {
		flags |= hasStaged
	}
	if r.Ended != nil {
		flags |= hasEnded
	}
	if r.Hidden {
		flags |= hasHidden
	}
	if len(r.Attachments) > 0 {
		flags |= hasAttachments
	}
	if r.Lease != nil && r.Lease.PreparedBy != "" {
		flags |= hasPreparedBy
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, r.Fencing)
	b = binary.AppendVarint(b, r.Version)
	b = bincodec.AppendStr(b, r.ETag)
	b = bincodec.AppendBytes(b, r.State)
	b = bincodec.AppendStr(b, r.Blob)
	b = binary.AppendVarint(b, r.Size)
	b = binary.AppendVarint(b, r.UpdatedAt)
	if l := r.Lease; l != nil {
		b = bincodec.AppendStr(bincodec.AppendStr(bincodec.AppendStr(b, l.ID), l.Owner), l.Txn)
		b = binary.AppendVarint(b, l.Expires)
		b = binary.AppendUvarint(b, l.Fencing)
		b = bincodec.AppendBool(b, l.Enlisted)
		if l.PreparedBy != "" {
			b = bincodec.AppendStr(b, l.PreparedBy)
		}
	}
	if s := r.Staged; s != nil {
		b = appendStaged(b, s)
	}
	if e := r.Ended; e != nil {
		b = bincodec.AppendBool(bincodec.AppendStr(bincodec.AppendStr(b, e.ID), e.Outcome), e.Staged)
	}
	if len(r.Attachments) > 0 {
		b = appendAttachments(b, r.Attachments)
	}
	return b
}

func (r *record) stagedLen() int {
	if r.Staged == nil {
		return 0
	}
	return len(r.Staged.State) + 64
}

func appendStaged(b []byte, s *stagedRec) []byte {
	b = bincodec.AppendStr(b, s.Txn)
	b = binary.AppendVarint(b, s.Version)
	b = bincodec.AppendBool(b, s.Removed)
	b = bincodec.AppendStr(b, s.ETag)
	b = bincodec.AppendBytes(b, s.State)
	b = bincodec.AppendStr(b, s.Blob)
	b = binary.AppendVarint(b, s.Size)
	hidden := byte(0) // 0 unset, 1 false, 2 true
	if s.Hidden != nil {
		hidden = 1
		if *s.Hidden {
			hidden = 2
		}
	}
	b = append(b, hidden)
	b = bincodec.AppendBool(b, s.ClearAttachments)
	return appendAttachments(b, s.Attachments)
}

// appendAttachments writes a name-sorted map; a nil entry (a staged
// deletion) is written as a name with no body.
func appendAttachments(b []byte, m map[string]*attachment) []byte {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = bincodec.AppendStr(b, n)
		a := m[n]
		b = bincodec.AppendBool(b, a != nil)
		if a == nil {
			continue
		}
		b = bincodec.AppendStr(bincodec.AppendStr(bincodec.AppendStr(bincodec.AppendStr(b, a.ID), a.ContentType), a.SHA256), a.Blob)
		b = binary.AppendVarint(b, a.Size)
		b = binary.AppendVarint(b, a.Created)
		b = binary.AppendVarint(b, a.Updated)
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
	d := &decoder{bincodec.Decoder{B: b[1:], Corrupt: errCorrupt}}
	r := d.record()
	if err := d.Finish(); err != nil {
		return record{}, err
	}
	return r, nil
}

// decoder reads the binary form (bincodec: the first error sticks).
type decoder struct{ bincodec.Decoder }

func (d *decoder) record() record {
	var r record
	flags := d.Uvarint()
	r.Fencing = d.Uvarint()
	r.Version = d.Varint()
	r.ETag, r.State, r.Blob = d.Str(), d.Bytes(), d.Str()
	r.Size, r.UpdatedAt = d.Varint(), d.Varint()
	r.Hidden = flags&hasHidden != 0
	if flags&hasLease != 0 {
		l := &leaseRec{ID: d.Str(), Owner: d.Str(), Txn: d.Str()}
		l.Expires, l.Fencing, l.Enlisted = d.Varint(), d.Uvarint(), d.Bool()
		if flags&hasPreparedBy != 0 {
			l.PreparedBy = d.Str()
		}
		r.Lease = l
	}
	if flags&hasStaged != 0 {
		r.Staged = d.staged()
	}
	if flags&hasEnded != 0 {
		r.Ended = &endedRec{ID: d.Str(), Outcome: d.Str(), Staged: d.Bool()}
	}
	if flags&hasAttachments != 0 {
		r.Attachments = d.attachments()
	}
	return r
}

func (d *decoder) staged() *stagedRec {
	s := &stagedRec{Txn: d.Str(), Version: d.Varint(), Removed: d.Bool()}
	s.ETag, s.State, s.Blob, s.Size = d.Str(), d.Bytes(), d.Str(), d.Varint()
	switch d.Byte() {
	case 1:
		f := false
		s.Hidden = &f
	case 2:
		t := true
		s.Hidden = &t
	}
	s.ClearAttachments = d.Bool()
	s.Attachments = d.attachments()
	return s
}

func (d *decoder) attachments() map[string]*attachment {
	n := d.Uvarint()
	if n == 0 || n > uint64(len(d.B)) {
		return nil
	}
	m := make(map[string]*attachment, n)
	for i := uint64(0); i < n && d.Err == nil; i++ {
		name := d.Str()
		if !d.Bool() {
			m[name] = nil
			continue
		}
		a := &attachment{Name: name, ID: d.Str(), ContentType: d.Str(), SHA256: d.Str(), Blob: d.Str()}
		a.Size, a.Created, a.Updated = d.Varint(), d.Varint(), d.Varint()
		m[name] = a
	}
	return m
}
