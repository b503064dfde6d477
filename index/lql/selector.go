package lql

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Selector is a parsed, validated selector ready to match documents. The
// zero value and a nil *Selector are the empty selector, which matches
// every document. A Selector is immutable and safe for concurrent use.
type Selector struct {
	root Node
	m    matcher
}

// NewSelector validates an AST built in Go and compiles it. A nil root is
// the empty selector. Errors wrap ErrInvalidSelector.
func NewSelector(root Node) (*Selector, error) {
	if err := validate(root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSelector, err)
	}
	return &Selector{root: root, m: compile(root)}, nil
}

// newCompiled wraps a parser-produced root, which the parsers have already
// checked; validation still runs as a safety net.
func newCompiled(root Node) (*Selector, error) {
	if err := validate(root); err != nil {
		return nil, &SyntaxError{Msg: err.Error()}
	}
	return &Selector{root: root, m: compile(root)}, nil
}

// Root returns the AST, or nil for the empty selector. Callers must not
// modify it.
func (s *Selector) Root() Node {
	if s == nil {
		return nil
	}
	return s.root
}

// IsEmpty reports whether s matches every document because it has no
// clauses.
func (s *Selector) IsEmpty() bool { return s == nil || s.root == nil }

// Match reports whether doc satisfies the selector. doc is a value decoded
// by encoding/json, preferably with UseNumber so that numbers keep their
// exact text. Match never panics on unexpected value types: they simply
// do not match.
func (s *Selector) Match(doc any) bool {
	if s == nil || s.m == nil {
		return true
	}
	return s.m.match(doc)
}

// MatchJSON decodes data (with UseNumber) and reports whether it matches.
// It returns an error when data is not a single JSON value.
func (s *Selector) MatchJSON(data []byte) (bool, error) {
	if s.IsEmpty() {
		return true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return false, fmt.Errorf("lql: decode document: %w", err)
	}
	if dec.More() {
		return false, fmt.Errorf("lql: decode document: trailing data after JSON value")
	}
	return s.Match(doc), nil
}

// Fields lists the distinct fields the selector tests, in order of first
// appearance.
func (s *Selector) Fields() []Path {
	var out []Path
	seen := map[string]bool{}
	Walk(s.Root(), func(n Node) bool {
		if f, ok := FieldOf(n); ok && !seen[f.Pointer] {
			seen[f.Pointer] = true
			out = append(out, f)
		}
		return true
	})
	return out
}

// validate checks an AST for node types, fields and bounds the evaluator
// cannot handle.
func validate(n Node) error {
	var err error
	Walk(n, func(n Node) bool {
		if err != nil {
			return false
		}
		err = validateNode(n)
		return err == nil
	})
	return err
}

func validateNode(n Node) error {
	switch x := n.(type) {
	case And:
		return noNilChild(x.Children)
	case Or:
		return noNilChild(x.Children)
	case Not:
		if x.Child == nil {
			return fmt.Errorf("not without child")
		}
		return nil
	case Eq:
		return validLiteral(x.Value)
	case In:
		if len(x.Values) == 0 {
			return fmt.Errorf("in %s without values", x.Field.Pointer)
		}
		for _, v := range x.Values {
			if err := validLiteral(v); err != nil {
				return err
			}
		}
		return nil
	case Range:
		if err := checkRange(x); err != nil {
			return fmt.Errorf("%s: %s", x.Field.Pointer, err.Msg)
		}
		return nil
	case Prefix, Contains, Exists:
		return nil
	}
	return fmt.Errorf("unsupported node type %T", n)
}

func validLiteral(l Literal) error {
	switch l.Kind {
	case KindString, KindBool, KindNull:
		return nil
	case KindNumber:
		if isJSONNumber(l.Text) {
			return nil
		}
		return fmt.Errorf("number literal %q is not JSON number text", l.Text)
	}
	return fmt.Errorf("literal of invalid kind %d", l.Kind)
}

func noNilChild(kids []Node) error {
	for _, k := range kids {
		if k == nil {
			return fmt.Errorf("nil child node")
		}
	}
	return nil
}
