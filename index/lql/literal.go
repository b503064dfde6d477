package lql

import (
	"encoding/json"
	"strings"
)

// Kind is the JSON type of a Literal.
type Kind uint8

// Literal kinds.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
	KindNull
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "bool"
	case KindNull:
		return "null"
	}
	return "invalid"
}

// Literal is a scalar value written in a selector. Text holds the string
// for KindString and the JSON number text for KindNumber; Bool holds the
// value for KindBool.
type Literal struct {
	Kind Kind
	Text string
	Bool bool
}

// String returns a string literal.
func String(s string) Literal { return Literal{Kind: KindString, Text: s} }

// Number returns a number literal. n must be JSON number text.
func Number(n json.Number) Literal { return Literal{Kind: KindNumber, Text: string(n)} }

// Bool returns a boolean literal.
func Bool(b bool) Literal { return Literal{Kind: KindBool, Bool: b} }

// Null returns the null literal.
func Null() Literal { return Literal{Kind: KindNull} }

// Value returns the literal as encoding/json would decode it with
// UseNumber: string, json.Number, bool or nil.
func (l Literal) Value() any {
	switch l.Kind {
	case KindString:
		return l.Text
	case KindNumber:
		return json.Number(l.Text)
	case KindBool:
		return l.Bool
	}
	return nil
}

// MarshalJSON writes the literal as the JSON value of its kind.
func (l Literal) MarshalJSON() ([]byte, error) {
	if l.Kind == KindNumber {
		if !isJSONNumber(l.Text) {
			return nil, &json.UnsupportedValueError{Str: l.Text}
		}
		return []byte(l.Text), nil
	}
	return json.Marshal(l.Value())
}

// lqlText renders the literal in LQL source form: strings always quoted,
// so that parsing the text yields the same literal.
func (l Literal) lqlText() string {
	switch l.Kind {
	case KindString:
		return quote(l.Text)
	case KindNumber:
		return l.Text
	case KindBool:
		if l.Bool {
			return "true"
		}
		return "false"
	}
	return "null"
}

// inferBare types an unquoted word: true, false and null (any case) are
// their JSON values, JSON number syntax is a number, and anything else is
// a string.
func inferBare(word string) Literal {
	switch strings.ToLower(word) {
	case "true":
		return Bool(true)
	case "false":
		return Bool(false)
	case "null":
		return Null()
	}
	if isJSONNumber(word) {
		return Literal{Kind: KindNumber, Text: word}
	}
	return String(word)
}

// literalFromJSON converts a scalar decoded with UseNumber.
func literalFromJSON(v any) (Literal, bool) {
	switch x := v.(type) {
	case string:
		return String(x), true
	case json.Number:
		return Literal{Kind: KindNumber, Text: string(x)}, true
	case bool:
		return Bool(x), true
	case nil:
		return Null(), true
	}
	return Literal{}, false
}

// quote renders s as a double-quoted LQL string. Only '"', '\\' and
// control bytes are escaped; other bytes (even invalid UTF-8) pass through,
// so unquoting gives s back exactly.
func quote(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
