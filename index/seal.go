package index

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
)

// sealer hides indexed values when the store is encrypted. Posting keys
// are store keys, which the encryption decorator does not encrypt, so a
// plain term would put a document's values (a string's first bytes, a
// number) on disk in clear. A sealed term replaces the value with a keyed
// MAC: equality lookups still find it, but range and prefix lookups cannot,
// so those selectors are answered by scanning (and re-checking) instead.
// Null and existence terms carry no value and stay as they are.
//
// A sealer is safe for concurrent use. Index writes seal every term of
// every document, so the MACs are pooled rather than keyed afresh per
// term (hmac.New allocates the MAC, two digests and both pads).
type sealer struct {
	macs sync.Pool // of *sealMAC, all keyed with the seal key
}

// sealMAC is a keyed MAC and the scratch bytes one term() call uses.
type sealMAC struct {
	h   hash.Hash
	buf []byte // the term in, then its MAC out; terms are short (maxIndexedString)
}

// newSealer returns a sealer that MACs terms with key.
func newSealer(key []byte) *sealer {
	s := &sealer{}
	s.macs.New = func() any { return &sealMAC{h: hmac.New(sha256.New, key)} }
	return s
}

// on reports whether terms are sealed (a nil sealer is off).
func (s *sealer) on() bool { return s != nil }

// term seals the value part of a term "<pathhash>/<tag><value>".
func (s *sealer) term(t string) string {
	if s == nil {
		return t
	}
	ph, rest, ok := strings.Cut(t, "/")
	if !ok || len(rest) <= 1 {
		return t
	}
	m := s.macs.Get().(*sealMAC)
	m.h.Reset()
	m.buf = append(m.buf[:0], t...) // Write([]byte(t)) would escape and allocate
	m.h.Write(m.buf)
	m.buf = m.h.Sum(m.buf[:0])
	var hx [32]byte // the first 16 bytes of the MAC in hex
	hex.Encode(hx[:], m.buf[:16])
	s.macs.Put(m)
	var b strings.Builder
	b.Grow(len(ph) + 2 + len(hx))
	b.WriteString(ph)
	b.WriteByte('/')
	b.WriteByte(rest[0])
	b.Write(hx[:])
	return b.String()
}

func (s *sealer) terms(ts []string) []string {
	if s == nil {
		return ts
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = s.term(t)
	}
	return out
}

// lookups seals the exact lookups of an equality plan.
func (s *sealer) lookups(p plan) plan {
	if s == nil || p == nil {
		return p
	}
	out := make(plan, len(p))
	for i, lk := range p {
		if lk.exact {
			lk.prefix = s.term(strings.TrimSuffix(lk.prefix, "/")) + "/"
		}
		out[i] = lk
	}
	return out
}
