package lql

import (
	"encoding/json"
	"math"
	"strconv"
)

// numeric is a JSON number ready for comparison: exact as int64 when the
// text is an integer that fits, IEEE-754 float64 otherwise.
type numeric struct {
	isInt bool
	i     int64
	f     float64
}

// isJSONNumber reports whether s follows the JSON number grammar
// (RFC 8259 §6): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// parseNumeric converts JSON number text. It reports false for text that
// strconv cannot read at all; overflow saturates to ±Inf.
func parseNumeric(s string) (numeric, bool) {
	integral := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	if integral {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return numeric{isInt: true, i: v}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return numeric{}, false
		}
	}
	if math.IsNaN(f) {
		return numeric{}, false
	}
	return numeric{f: f}, true
}

// docNumeric extracts a number from a decoded document value: json.Number
// (UseNumber), float64 (default decoding) or a Go integer type.
func docNumeric(v any) (numeric, bool) {
	switch n := v.(type) {
	case json.Number:
		if !isJSONNumber(string(n)) {
			return numeric{}, false
		}
		return parseNumeric(string(n))
	case float64:
		if math.IsNaN(n) {
			return numeric{}, false
		}
		return numeric{f: n}, true
	case float32:
		return docNumeric(float64(n))
	case int:
		return numeric{isInt: true, i: int64(n)}, true
	case int64:
		return numeric{isInt: true, i: n}, true
	case int32:
		return numeric{isInt: true, i: int64(n)}, true
	case uint64:
		if n > math.MaxInt64 {
			return numeric{f: float64(n)}, true
		}
		return numeric{isInt: true, i: int64(n)}, true
	case uint:
		return docNumeric(uint64(n))
	case uint32:
		return numeric{isInt: true, i: int64(n)}, true
	}
	return numeric{}, false
}

// cmpNumeric orders a and b exactly, without rounding an int64 through
// float64 where that would lose precision.
func cmpNumeric(a, b numeric) int {
	switch {
	case a.isInt && b.isInt:
		return cmpOrdered(a.i, b.i)
	case !a.isInt && !b.isInt:
		return cmpOrdered(a.f, b.f)
	case a.isInt:
		return cmpIntFloat(a.i, b.f)
	default:
		return -cmpIntFloat(b.i, a.f)
	}
}

func cmpIntFloat(i int64, f float64) int {
	const two63 = 9223372036854775808.0
	switch {
	case f >= two63:
		return -1
	case f < -two63:
		return 1
	case f == math.Trunc(f):
		return cmpOrdered(i, int64(f))
	default:
		// f has a fraction, so |f| < 2^52 and float64(i) keeps the order.
		return cmpOrdered(float64(i), f)
	}
}

func cmpOrdered[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// formatNumeric renders n as JSON number text.
func formatNumeric(n numeric) string {
	if n.isInt {
		return strconv.FormatInt(n.i, 10)
	}
	if n.f == math.Trunc(n.f) && math.Abs(n.f) < 1e21 {
		return strconv.FormatFloat(n.f, 'f', -1, 64)
	}
	return strconv.FormatFloat(n.f, 'g', -1, 64)
}

// addNumeric returns a+b, exact for int64 operands that do not overflow.
func addNumeric(a, b numeric) (numeric, bool) {
	if a.isInt && b.isInt {
		s := a.i + b.i
		if (s > a.i) == (b.i > 0) {
			return numeric{isInt: true, i: s}, true
		}
	}
	f := toFloat(a) + toFloat(b)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return numeric{}, false
	}
	return numeric{f: f}, true
}

func toFloat(n numeric) float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}
