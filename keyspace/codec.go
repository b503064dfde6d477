package keyspace

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// The key record is stored in a compact binary form (codecV1) because it is
// written on every lease and state operation: encoding/json spent more time
// re-validating the inline state than the store spent writing it. Records
// written by earlier builds in JSON ('{' first) are still read.

const codecV1 = 0xB1

var errCorrupt = errors.New("keyspace: corrupt record")

// Presence bits of the record header.
const (
	hasLease = 1 << iota
	hasStaged
	hasEnded
	hasHidden
	hasAttachments
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
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, r.Fencing)
	b = binary.AppendVarint(b, r.Version)
	b = appendStr(b, r.ETag)
	b = appendBytes(b, r.State)
	b = appendStr(b, r.Blob)
	b = binary.AppendVarint(b, r.Size)
	b = binary.AppendVarint(b, r.UpdatedAt)
	if l := r.Lease; l != nil {
		b = appendStr(appendStr(appendStr(b, l.ID), l.Owner), l.Txn)
		b = binary.AppendVarint(b, l.Expires)
		b = binary.AppendUvarint(b, l.Fencing)
		b = appendBool(b, l.Enlisted)
	}
	if s := r.Staged; s != nil {
		b = appendStaged(b, s)
	}
	if e := r.Ended; e != nil {
		b = appendBool(appendStr(appendStr(b, e.ID), e.Outcome), e.Staged)
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
	b = appendStr(b, s.Txn)
	b = binary.AppendVarint(b, s.Version)
	b = appendBool(b, s.Removed)
	b = appendStr(b, s.ETag)
	b = appendBytes(b, s.State)
	b = appendStr(b, s.Blob)
	b = binary.AppendVarint(b, s.Size)
	hidden := byte(0) // 0 unset, 1 false, 2 true
	if s.Hidden != nil {
		hidden = 1
		if *s.Hidden {
			hidden = 2
		}
	}
	b = append(b, hidden)
	b = appendBool(b, s.ClearAttachments)
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
		b = appendStr(b, n)
		a := m[n]
		b = appendBool(b, a != nil)
		if a == nil {
			continue
		}
		b = appendStr(appendStr(appendStr(appendStr(b, a.ID), a.ContentType), a.SHA256), a.Blob)
		b = binary.AppendVarint(b, a.Size)
		b = binary.AppendVarint(b, a.Created)
		b = binary.AppendVarint(b, a.Updated)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b []byte, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeRecord(b []byte) (record, error) {
	if len(b) > 0 && b[0] == '{' {
		var r record
		err := json.Unmarshal(b, &r)
		return r, err
	}
	if len(b) == 0 || b[0] != codecV1 {
		return record{}, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := &decoder{b: b[1:]}
	r := d.record()
	if d.err != nil {
		return record{}, d.err
	}
	if len(d.b) != 0 {
		return record{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return r, nil
}

// decoder reads the binary form; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated", errCorrupt)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	r := d.raw()
	if len(r) == 0 {
		return nil
	}
	return append([]byte(nil), r...)
}

func (d *decoder) byte1() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool() bool { return d.byte1() == 1 }

func (d *decoder) record() record {
	var r record
	flags := d.uvarint()
	r.Fencing = d.uvarint()
	r.Version = d.varint()
	r.ETag, r.State, r.Blob = d.str(), d.bytes(), d.str()
	r.Size, r.UpdatedAt = d.varint(), d.varint()
	r.Hidden = flags&hasHidden != 0
	if flags&hasLease != 0 {
		l := &leaseRec{ID: d.str(), Owner: d.str(), Txn: d.str()}
		l.Expires, l.Fencing, l.Enlisted = d.varint(), d.uvarint(), d.bool()
		r.Lease = l
	}
	if flags&hasStaged != 0 {
		r.Staged = d.staged()
	}
	if flags&hasEnded != 0 {
		r.Ended = &endedRec{ID: d.str(), Outcome: d.str(), Staged: d.bool()}
	}
	if flags&hasAttachments != 0 {
		r.Attachments = d.attachments()
	}
	return r
}

func (d *decoder) staged() *stagedRec {
	s := &stagedRec{Txn: d.str(), Version: d.varint(), Removed: d.bool()}
	s.ETag, s.State, s.Blob, s.Size = d.str(), d.bytes(), d.str(), d.varint()
	switch d.byte1() {
	case 1:
		f := false
		s.Hidden = &f
	case 2:
		t := true
		s.Hidden = &t
	}
	s.ClearAttachments = d.bool()
	s.Attachments = d.attachments()
	return s
}

func (d *decoder) attachments() map[string]*attachment {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		return nil
	}
	m := make(map[string]*attachment, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str()
		if !d.bool() {
			m[name] = nil
			continue
		}
		a := &attachment{Name: name, ID: d.str(), ContentType: d.str(), SHA256: d.str(), Blob: d.str()}
		a.Size, a.Created, a.Updated = d.varint(), d.varint(), d.varint()
		m[name] = a
	}
	return m
}
