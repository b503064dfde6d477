package edge

// flatValue is a scalar JSON value of a flat object.
type flatValue struct {
	kind byte // 's' string, 'n' integer, 'b' bool, 'z' null
	s    string
	n    int64
	b    bool
}

// decodeFlat parses the hot control bodies (acquire, keepalive, release)
// without reflection: a JSON object whose values are ASCII strings without
// escapes, integers, booleans or null. set is called per field and returns
// false for an unknown field or a wrong type. decodeFlat reports false for
// anything it does not fully understand; the caller then decodes the body
// with encoding/json, which accepts everything valid and words the errors.
// The key passed to set aliases b (set compares it, switch string(key),
// without allocating).
func decodeFlat(b []byte, set func(key []byte, v flatValue) bool) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for i < len(b) {
		key, j, ok := flatString(b, i)
		if !ok {
			return false
		}
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		var v flatValue
		if v, i, ok = flatScalar(b, i); !ok || !set(key, v) {
			return false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
	return false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// flatString reads a string of printable ASCII without escapes and
// returns its bytes (a slice of b).
func flatString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, j, false
		}
	}
	return nil, len(b), false
}

func flatScalar(b []byte, i int) (flatValue, int, bool) {
	if i >= len(b) {
		return flatValue{}, i, false
	}
	switch c := b[i]; {
	case c == '"':
		s, j, ok := flatString(b, i)
		return flatValue{kind: 's', s: string(s)}, j, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return flatInt(b, i)
	case hasWord(b, i, "true"):
		return flatValue{kind: 'b', b: true}, i + 4, true
	case hasWord(b, i, "false"):
		return flatValue{kind: 'b'}, i + 5, true
	case hasWord(b, i, "null"):
		return flatValue{kind: 'z'}, i + 4, true
	}
	return flatValue{}, i, false
}

func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}

// flatInt reads a JSON integer that fits an int64 (no fraction, exponent
// or leading zero).
func flatInt(b []byte, i int) (flatValue, int, bool) {
	neg := b[i] == '-'
	j := i
	if neg {
		j++
	}
	start := j
	var n uint64
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		if n > (1<<63-1)/10 {
			return flatValue{}, j, false
		}
		n = n*10 + uint64(b[j]-'0')
	}
	digits := j - start
	switch {
	case digits == 0, digits > 1 && b[start] == '0', n > 1<<63-1:
		return flatValue{}, j, false
	case j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E'):
		return flatValue{}, j, false
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return flatValue{kind: 'n', n: v}, j, true
}

// Setters of the hot request bodies: each accepts exactly the fields and
// JSON types encoding/json would, null meaning "leave unset".

func setString(dst *string, v flatValue) bool {
	switch v.kind {
	case 's':
		*dst = v.s
	case 'z':
	default:
		return false
	}
	return true
}

func setInt(dst *int64, v flatValue) bool {
	switch v.kind {
	case 'n':
		*dst = v.n
	case 'z':
	default:
		return false
	}
	return true
}

func setBool(dst *bool, v flatValue) bool {
	switch v.kind {
	case 'b':
		*dst = v.b
	case 'z':
	default:
		return false
	}
	return true
}
