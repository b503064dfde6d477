package lql

import (
	"strings"
	"time"
)

// matcher is the compiled form of a Node.
type matcher interface {
	match(doc any) bool
}

// compile turns a validated AST into matchers with literals pre-parsed.
func compile(n Node) matcher {
	switch x := n.(type) {
	case nil:
		return nil
	case And:
		return andM(compileAll(x.Children))
	case Or:
		return orM(compileAll(x.Children))
	case Not:
		return notM{compile(x.Child)}
	case Eq:
		return inM{path: x.Field, lits: []clit{compileLit(x.Value)}}
	case In:
		m := inM{path: x.Field}
		for _, v := range x.Values {
			m.lits = append(m.lits, compileLit(v))
		}
		return m
	case Range:
		return compileRange(x)
	case Prefix:
		return compileStringOp(x.Field, x.Values, x.IgnoreCase, strings.HasPrefix)
	case Contains:
		return compileStringOp(x.Field, x.Values, x.IgnoreCase, strings.Contains)
	case Exists:
		return existsM{x.Field}
	}
	panic("lql: compile of unvalidated node") // validate rejects other types
}

func compileAll(ns []Node) []matcher {
	out := make([]matcher, len(ns))
	for i, n := range ns {
		out[i] = compile(n)
	}
	return out
}

type andM []matcher

func (m andM) match(doc any) bool {
	for _, c := range m {
		if !c.match(doc) {
			return false
		}
	}
	return true
}

type orM []matcher

func (m orM) match(doc any) bool {
	for _, c := range m {
		if c.match(doc) {
			return true
		}
	}
	return false
}

type notM struct{ m matcher }

func (m notM) match(doc any) bool { return !m.m.match(doc) }

type existsM struct{ path Path }

func (m existsM) match(doc any) bool {
	v, ok := m.path.Lookup(doc)
	return ok && v != nil
}

// clit is a literal with its number and time readings pre-parsed.
type clit struct {
	Literal
	num   numeric
	numOK bool
	tm    time.Time
	tmOK  bool
}

func compileLit(l Literal) clit {
	c := clit{Literal: l}
	switch l.Kind {
	case KindNumber:
		c.num, c.numOK = parseNumeric(l.Text)
	case KindString:
		if isJSONNumber(l.Text) {
			c.num, c.numOK = parseNumeric(l.Text)
		}
		c.tm, c.tmOK = parseTime(l.Text)
	}
	return c
}

// equal applies the equality rules of the package documentation.
func (l clit) equal(v any) bool {
	switch x := v.(type) {
	case string:
		if l.Kind != KindString {
			return false
		}
		if x == l.Text {
			return true
		}
		if l.tmOK {
			t, ok := parseTime(x)
			return ok && t.Equal(l.tm)
		}
		return false
	case bool:
		switch l.Kind {
		case KindBool:
			return x == l.Bool
		case KindString:
			return l.Text == "true" && x || l.Text == "false" && !x
		}
		return false
	case nil:
		return l.Kind == KindNull
	}
	if !l.numOK {
		return false
	}
	n, ok := docNumeric(v)
	return ok && cmpNumeric(n, l.num) == 0
}

// inM implements Eq (one literal) and In.
type inM struct {
	path Path
	lits []clit
}

func (m inM) match(doc any) bool {
	v, ok := m.path.Lookup(doc)
	if !ok {
		return false
	}
	for _, l := range m.lits {
		if l.equal(v) {
			return true
		}
	}
	return false
}

type stringOpM struct {
	path       Path
	needles    []string
	ignoreCase bool
	test       func(s, needle string) bool
}

func compileStringOp(f Path, values []string, ic bool, test func(string, string) bool) matcher {
	m := stringOpM{path: f, ignoreCase: ic, test: test}
	for _, v := range values {
		if ic {
			v = strings.ToLower(v)
		}
		m.needles = append(m.needles, v)
	}
	return m
}

func (m stringOpM) match(doc any) bool {
	v, ok := m.path.Lookup(doc)
	if !ok {
		return false
	}
	if len(m.needles) == 0 {
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	if m.ignoreCase {
		s = strings.ToLower(s)
	}
	for _, n := range m.needles {
		if m.test(s, n) {
			return true
		}
	}
	return false
}
