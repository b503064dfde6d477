package lql

import (
	"encoding/json"
	"strings"
)

// MarshalJSON writes the selector in the /v1/query wire shape that
// ParseJSONSelector reads; the empty selector is {}. Literals keep their
// JSON types (a number literal is written as a JSON number).
func (s Selector) MarshalJSON() ([]byte, error) {
	if s.root == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(wireNode(s.root))
}

type wireTerm struct {
	Field      Path     `json:"field"`
	Value      *Literal `json:"value,omitempty"`
	Any        []any    `json:"any,omitempty"`
	IgnoreCase bool     `json:"ignoreCase,omitempty"`
}

type wireRange struct {
	Field Path     `json:"field"`
	GT    *Literal `json:"gt,omitempty"`
	GTE   *Literal `json:"gte,omitempty"`
	LT    *Literal `json:"lt,omitempty"`
	LTE   *Literal `json:"lte,omitempty"`
}

// wireNode converts a node into values encoding/json writes in the wire
// shape: a one-key object per node.
func wireNode(n Node) map[string]any {
	switch x := n.(type) {
	case And:
		return map[string]any{"and": wireNodes(x.Children)}
	case Or:
		return map[string]any{"or": wireNodes(x.Children)}
	case Not:
		return map[string]any{"not": wireNode(x.Child)}
	case Eq:
		v := x.Value
		return map[string]any{"eq": wireTerm{Field: x.Field, Value: &v}}
	case In:
		t := wireTerm{Field: x.Field}
		for _, l := range x.Values {
			t.Any = append(t.Any, l)
		}
		return map[string]any{"in": t}
	case Range:
		return map[string]any{"range": wireRange(x)}
	case Prefix:
		return map[string]any{stringOpKey("prefix", x.IgnoreCase): wireStringTerm(x.Field, x.Values)}
	case Contains:
		return map[string]any{stringOpKey("contains", x.IgnoreCase): wireStringTerm(x.Field, x.Values)}
	case Exists:
		return map[string]any{"exists": x.Field}
	}
	return map[string]any{}
}

func wireNodes(ns []Node) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = wireNode(n)
	}
	return out
}

func stringOpKey(op string, ignoreCase bool) string {
	if ignoreCase {
		return "i" + op
	}
	return op
}

func wireStringTerm(f Path, values []string) wireTerm {
	t := wireTerm{Field: f}
	switch len(values) {
	case 0:
	case 1:
		v := String(values[0])
		t.Value = &v
	default:
		for _, v := range values {
			t.Any = append(t.Any, v)
		}
	}
	return t
}

// String renders the selector as canonical LQL text that ParseSelector
// reads back into the same AST: long forms with quoted fields, groups as
// and{...}, or{...} and not{...}. The empty selector renders as "".
func (s *Selector) String() string {
	root := s.Root()
	if root == nil {
		return ""
	}
	var b strings.Builder
	if and, ok := root.(And); ok {
		writeList(&b, and.Children)
	} else {
		writeNode(&b, root)
	}
	return b.String()
}

func writeList(b *strings.Builder, ns []Node) {
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(',')
		}
		writeNode(b, n)
	}
}

func writeNode(b *strings.Builder, n Node) {
	switch x := n.(type) {
	case And:
		b.WriteString("and{")
		writeList(b, x.Children)
		b.WriteByte('}')
	case Or:
		b.WriteString("or{")
		writeList(b, x.Children)
		b.WriteByte('}')
	case Not:
		b.WriteString("not{")
		if and, ok := x.Child.(And); ok {
			writeList(b, and.Children)
		} else {
			writeNode(b, x.Child)
		}
		b.WriteByte('}')
	default:
		writeLeaf(b, n)
	}
}

func writeLeaf(b *strings.Builder, n Node) {
	f, _ := FieldOf(n)
	switch x := n.(type) {
	case Eq:
		writeTerm(b, "eq", f, "value="+x.Value.lqlText())
	case In:
		writeTerm(b, "in", f, "any="+literalListText(x.Values))
	case Range:
		var args []string
		for i, l := range x.bounds() {
			if l != nil {
				args = append(args, [4]string{"gt", "gte", "lt", "lte"}[i]+"="+l.lqlText())
			}
		}
		writeTerm(b, "range", f, args...)
	case Prefix:
		writeTerm(b, stringOpKey("prefix", x.IgnoreCase), f, needleArgs(x.Values)...)
	case Contains:
		writeTerm(b, stringOpKey("contains", x.IgnoreCase), f, needleArgs(x.Values)...)
	case Exists:
		writeTerm(b, "exists", f)
	}
}

func writeTerm(b *strings.Builder, op string, f Path, args ...string) {
	b.WriteString(op)
	b.WriteString("{field=")
	b.WriteString(quote(f.Pointer))
	for _, a := range args {
		b.WriteByte(',')
		b.WriteString(a)
	}
	b.WriteByte('}')
}

func needleArgs(values []string) []string {
	switch len(values) {
	case 0:
		return nil
	case 1:
		return []string{"value=" + quote(values[0])}
	}
	lits := make([]Literal, len(values))
	for i, v := range values {
		lits[i] = String(v)
	}
	return []string{"any=" + literalListText(lits)}
}

func literalListText(ls []Literal) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.lqlText()
	}
	return "[" + strings.Join(parts, ",") + "]"
}
