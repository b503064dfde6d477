// Package bincodec holds the primitives of lockd's compact binary record
// forms (key records, queue message records): varints, length-prefixed
// strings and a decoder whose first error sticks. Records are written on
// every lease, state and queue operation, where encoding/json cost more
// than the store write itself.
package bincodec

import (
	"encoding/binary"
	"fmt"
)

// AppendStr appends s with its length.
func AppendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends s with its length.
func AppendBytes(b []byte, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBool appends v as one byte.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Decoder reads what the Append functions wrote. The first error sticks:
// later reads return zero values, so a record is decoded straight through
// and Err checked once.
type Decoder struct {
	B   []byte
	Err error
	// Corrupt is the sentinel a truncated input's error wraps.
	Corrupt error
}

func (d *Decoder) fail() {
	if d.Err == nil {
		d.Err = fmt.Errorf("%w: truncated", d.Corrupt)
	}
	d.B = nil
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Raw reads a length-prefixed byte string; the result aliases the input.
func (d *Decoder) Raw() []byte {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.fail()
		return nil
	}
	out := d.B[:n:n]
	d.B = d.B[n:]
	return out
}

// Str reads a length-prefixed string.
func (d *Decoder) Str() string { return string(d.Raw()) }

// Bytes reads a length-prefixed byte string into a copy (nil when empty).
func (d *Decoder) Bytes() []byte {
	r := d.Raw()
	if len(r) == 0 {
		return nil
	}
	return append([]byte(nil), r...)
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.B) == 0 {
		d.fail()
		return 0
	}
	v := d.B[0]
	d.B = d.B[1:]
	return v
}

// Bool reads a byte AppendBool wrote.
func (d *Decoder) Bool() bool { return d.Byte() == 1 }

// Finish reports the first error, or trailing bytes as corruption.
func (d *Decoder) Finish() error {
	if d.Err != nil {
		return d.Err
	}
	if len(d.B) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", d.Corrupt, len(d.B))
	}
	return nil
}
