// Package objstore holds what the object-store drivers (store/s3,
// store/azure) share: the order-preserving escaping of record and blob
// names into object names, and the per-operation call and round-trip
// counters behind their Stats.
package objstore

import (
	"errors"
	"strings"
)

// ErrBadName is returned for an object name the driver did not write.
var ErrBadName = errors.New("objstore: not an escaped name")

const hexDigits = "0123456789ABCDEF"

// safe reports whether b is stored unescaped. The safe set and the markers
// are chosen so that escaping preserves byte order: every escaped byte
// shares its marker with the bytes of the same gap between safe characters,
// and each marker lies in the gap it stands for.
func safe(b byte) bool {
	return b == '-' || '0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z'
}

// marker returns the escape character for an unsafe byte b.
func marker(b byte) byte {
	switch {
	case b < '-':
		return '!' // 0x00-0x2C
	case b < '0':
		return '.' // '.', '/'
	case b < 'A':
		return '=' // 0x3A-0x40
	case b < 'a':
		return '_' // 0x5B-0x60
	default:
		return '~' // 0x7B-0xFF
	}
}

// escape encodes key as an ASCII object-name segment without '/'.
func Escape(key string) string {
	var sb strings.Builder
	sb.Grow(len(key) + 8)
	for i := 0; i < len(key); i++ {
		b := key[i]
		if safe(b) {
			sb.WriteByte(b)
			continue
		}
		sb.WriteByte(marker(b))
		sb.WriteByte(hexDigits[b>>4])
		sb.WriteByte(hexDigits[b&15])
	}
	return sb.String()
}

// unescape decodes a name made by escape. It rejects any other spelling, so
// that decoding is the exact inverse of escape.
func Unescape(name string) (string, error) {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if safe(c) {
			out = append(out, c)
			continue
		}
		if i+2 >= len(name) {
			return "", ErrBadName
		}
		hi, lo := strings.IndexByte(hexDigits, name[i+1]), strings.IndexByte(hexDigits, name[i+2])
		if hi < 0 || lo < 0 {
			return "", ErrBadName
		}
		b := byte(hi<<4 | lo)
		if safe(b) || marker(b) != c {
			return "", ErrBadName
		}
		out = append(out, b)
		i += 2
	}
	return string(out), nil
}
