package lql

import (
	"encoding/json"
	"strings"
)

// Path is a parsed RFC 6901 JSON Pointer. Pointer is the text form and
// Segments the unescaped reference tokens ("~1" → "/", "~0" → "~"). The
// pointer "" is the whole document and has no segments; "/" names the key
// "" of the root object. Build one with ParsePath or PathOf so that the two
// fields agree.
type Path struct {
	Pointer  string
	Segments []string
}

// ParsePath parses an RFC 6901 JSON Pointer. The pointer must be empty or
// start with '/', and every '~' must be followed by '0' or '1'. Errors are
// *SyntaxError with Pos relative to p.
func ParsePath(p string) (Path, error) {
	if p == "" {
		return Path{}, nil
	}
	if p[0] != '/' {
		return Path{}, syntaxErrorf(0, "JSON Pointer %q must start with '/'", p)
	}
	segs := make([]string, 0, strings.Count(p, "/"))
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg, err := unescapeToken(p[start:i], start)
		if err != nil {
			return Path{}, err
		}
		segs = append(segs, seg)
		start = i + 1
	}
	return Path{Pointer: p, Segments: segs}, nil
}

func unescapeToken(tok string, base int) (string, error) {
	if !strings.Contains(tok, "~") {
		return tok, nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '~' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(tok) || (tok[i+1] != '0' && tok[i+1] != '1') {
			return "", syntaxErrorf(base+i, "invalid escape in JSON Pointer: '~' must be followed by '0' or '1'")
		}
		if tok[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		i++
	}
	return b.String(), nil
}

// PathOf builds the Path whose unescaped segments are segs.
func PathOf(segs ...string) Path {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(escapeToken(s))
	}
	return Path{Pointer: b.String(), Segments: append([]string(nil), segs...)}
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Join returns p extended by the segments of q (brace fan-out).
func (p Path) Join(q Path) Path {
	segs := make([]string, 0, len(p.Segments)+len(q.Segments))
	segs = append(segs, p.Segments...)
	segs = append(segs, q.Segments...)
	return Path{Pointer: p.Pointer + q.Pointer, Segments: segs}
}

// String returns the pointer text.
func (p Path) String() string { return p.Pointer }

// Lookup resolves p in a document decoded by encoding/json (objects as
// map[string]any, arrays as []any). It reports false when a segment is
// missing, an array index is not a canonical decimal in range, or a
// scalar is traversed.
func (p Path) Lookup(doc any) (any, bool) {
	cur := doc
	for _, seg := range p.Segments {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := arrayIndex(seg, len(node))
			if !ok {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// arrayIndex parses an RFC 6901 array index ("0" or a decimal without
// leading zeros) and checks it against n.
func arrayIndex(seg string, n int) (int, bool) {
	if seg == "" || len(seg) > 18 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	i := 0
	for j := 0; j < len(seg); j++ {
		c := seg[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	return i, i < n
}

// MarshalJSON writes the pointer as a JSON string.
func (p Path) MarshalJSON() ([]byte, error) { return json.Marshal(p.Pointer) }
