package index

import (
	"encoding/hex"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

// Store layout of a namespace's index (see docs/STORAGE.md, "Index"):
//
//	<ns>/x/config                     namespace query configuration (JSON)
//	<ns>/x/meta                       index meta: state (open|clean) and seq
//	<ns>/x/d/<key>                    entry: indexed version and terms of key
//	<ns>/x/o/<key>                    key whose document exceeded the limits
//	<ns>/x/p/<term>/<key>             posting (empty value)
//
// A term is "<pathhash>/<tag><value>": pathhash is 16 hex digits of the
// FNV-1a hash of the canonical JSON Pointer, tag is one of
//
//	e          the path holds an object or array (no value); a scalar's
//	           value term is its existence
//	n<16 hex>  a number, as an order-preserving float64
//	t<16 hex>  a string that parses as a timestamp, as order-preserving
//	           unix nanoseconds (saturated)
//	s<hex>     a string: hex of its first maxIndexedString bytes
//	b0, b1     false, true
//	z          null
//
// Every encoding is monotone (never strictly order-reversing), so an
// inclusive range over encodings is a superset of the exact range; the
// query re-checks every candidate against the document.
const (
	tagExists = 'e'
	tagNumber = 'n'
	tagTime   = 't'
	tagString = 's'
	tagBool   = 'b'
	tagNull   = 'z'
)

// maxIndexedString bounds the bytes of a string value kept in a term.
const maxIndexedString = 64

func configKey(ns string) string      { return ns + "/x/config" }
func metaKey(ns string) string        { return ns + "/x/meta" }
func entryPrefix(ns string) string    { return ns + "/x/d/" }
func overflowPrefix(ns string) string { return ns + "/x/o/" }
func postingPrefix(ns string) string  { return ns + "/x/p/" }

// postingKey is the record of key under term.
func postingKey(ns, term, key string) string { return postingPrefix(ns) + term + "/" + key }

// pathHash names a JSON Pointer given by its unescaped segments. Hash
// collisions only widen candidate sets.
func pathHash(segs []string) string {
	h := fnv.New64a()
	for _, s := range segs {
		h.Write([]byte{'/'})
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex16(h.Sum64())
}

func hex16(u uint64) string {
	s := strconv.FormatUint(u, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// encFloat is an order-preserving encoding of f (-0 is +0).
func encFloat(f float64) string {
	if f == 0 {
		f = 0
	}
	b := math.Float64bits(f)
	if b>>63 == 1 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return hex16(b)
}

// parseNumber reads a JSON number as float64; out-of-range values
// saturate to ±Inf, which keeps the encoding monotone.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, !math.IsNaN(f)
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encTime is an order-preserving encoding of t as saturated unix
// nanoseconds.
func encTime(t time.Time) string {
	var n int64
	switch {
	case t.Before(minTime):
		n = math.MinInt64
	case t.After(maxTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return hex16(uint64(n) ^ (1 << 63))
}

// parseTime accepts exactly the timestamps LQL compares as times: RFC
// 3339 (optional fraction) or a bare date (midnight UTC).
func parseTime(s string) (time.Time, bool) {
	if len(s) < 10 || len(s) > 64 || s[4] != '-' {
		return time.Time{}, false
	}
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// encString is the hex of s's first maxIndexedString bytes; hex digits
// sort like the bytes they encode.
func encString(s string) string {
	if len(s) > maxIndexedString {
		s = s[:maxIndexedString]
	}
	return hex.EncodeToString([]byte(s))
}

func term(ph string, tag byte, value string) string {
	return ph + "/" + string(tag) + value
}
