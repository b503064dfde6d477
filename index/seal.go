package index

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// sealer hides indexed values when the store is encrypted. Posting keys
// are store keys, which the encryption decorator does not encrypt, so a
// plain term would put a document's values (a string's first bytes, a
// number) on disk in clear. A sealed term replaces the value with a keyed
// MAC: equality lookups still find it, but range and prefix lookups cannot,
// so those selectors are answered by scanning (and re-checking) instead.
// Null and existence terms carry no value and stay as they are.
type sealer struct{ key []byte }

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
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(t))
	return ph + "/" + rest[:1] + hex.EncodeToString(mac.Sum(nil)[:16])
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
