// Package names validates and normalizes namespaces, keys and queue names
// with lockd v0.9's rules: lower-case letters, digits, '.', '_' and '-',
// at most 128 characters; keys are '/'-separated segments of that alphabet.
package names

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest namespace, key or segment accepted.
const MaxLen = 128

var (
	// ErrEmpty reports a missing name.
	ErrEmpty = errors.New("names: empty")
	// ErrReserved reports a namespace starting with '.', kept for lockd's
	// own records (such as .txns).
	ErrReserved = errors.New("names: reserved")
	// ErrInvalid reports a malformed name.
	ErrInvalid = errors.New("names: invalid")
)

// Namespace trims and lower-cases ns, substituting def when ns is empty,
// and checks it. Dot-prefixed (reserved) namespaces are rejected.
func Namespace(ns, def string) (string, error) {
	ns = strings.ToLower(strings.TrimSpace(ns))
	if ns == "" {
		ns = def
	}
	if ns == "" {
		return "", fmt.Errorf("namespace required: %w", ErrEmpty)
	}
	if strings.HasPrefix(ns, ".") {
		return "", fmt.Errorf("namespace %q is reserved: %w", ns, ErrReserved)
	}
	if err := segment(ns); err != nil {
		return "", fmt.Errorf("namespace %w", err)
	}
	return ns, nil
}

// Key trims one leading '/', lower-cases and checks a key.
func Key(key string) (string, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	key = strings.TrimPrefix(key, "/")
	if key == "" {
		return "", fmt.Errorf("key required: %w", ErrEmpty)
	}
	if len(key) > MaxLen {
		return "", fmt.Errorf("key too long (max %d characters): %w", MaxLen, ErrInvalid)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return "", fmt.Errorf("key contains empty segment: %w", ErrInvalid)
		}
		if err := segment(seg); err != nil {
			return "", fmt.Errorf("key segment %w", err)
		}
	}
	return key, nil
}

// Queue checks a queue name (same alphabet as a key).
func Queue(q string) (string, error) {
	q, err := Key(q)
	if err != nil {
		return "", fmt.Errorf("queue: %w", err)
	}
	return q, nil
}

func segment(s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("too long (max %d characters): %w", MaxLen, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%q has invalid character %q (allowed: lowercase letters, digits, '.', '_', '-'): %w", s, c, ErrInvalid)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%q is not a valid name: %w", s, ErrInvalid)
	}
	return nil
}
