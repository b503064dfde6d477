package lql

import (
	"encoding/json"
	"strings"
)

// MutationKind is what a Mutation does at its path.
type MutationKind uint8

// Mutation kinds.
const (
	// MutationSet stores Value, creating missing intermediate objects.
	MutationSet MutationKind = iota + 1
	// MutationIncrement adds Delta to a number (a missing value counts as
	// 0, so the result is Delta).
	MutationIncrement
	// MutationRemove deletes the value; a missing path is not an error.
	MutationRemove
	// MutationSetNow stores the Apply clock's time as RFC 3339 with
	// nanoseconds in UTC (time:/path=NOW).
	MutationSetNow
)

// Mutation is one parsed mutation expression. Brace blocks are already
// fanned out, so Path is always the full pointer.
type Mutation struct {
	Kind MutationKind
	Path Path
	// Value is the value of a MutationSet as encoding/json decodes it with
	// UseNumber: string, json.Number, bool, nil, map[string]any or []any.
	// Apply stores a deep copy, never Value itself.
	Value any
	// Delta is the amount of a MutationIncrement, as JSON number text.
	Delta json.Number
}

// ParseMutations parses mutation expressions. Each argument may itself
// hold several expressions separated by commas or newlines; the result is
// in source order. Errors are *SyntaxError; when more than one argument is
// given, Expr is the 1-based number of the argument that failed.
func ParseMutations(exprs ...string) ([]Mutation, error) {
	var out []Mutation
	for i, e := range exprs {
		p := &mutParser{scanner: scanner{src: e}}
		if err := p.list(Path{}, -1); err != nil {
			if se, ok := err.(*SyntaxError); ok && len(exprs) > 1 {
				se.Expr = i + 1
			}
			return nil, err
		}
		out = append(out, p.out...)
	}
	if len(out) == 0 {
		return nil, syntaxErrorf(0, "no mutations given")
	}
	return out, nil
}

// mutParser parses mutation text, appending fanned-out mutations to out.
type mutParser struct {
	scanner
	out   []Mutation
	depth int
}

// list parses expressions until the end of input (open < 0) or the '}'
// matching the '{' at offset open. prefix is the brace prefix so far.
func (p *mutParser) list(prefix Path, open int) error {
	if p.depth++; p.depth > maxNesting {
		return p.errf(max(open, 0), "brace blocks nested more than %d levels deep", maxNesting)
	}
	defer func() { p.depth-- }()
	for {
		p.skipSeparators()
		switch {
		case p.eof() && open >= 0:
			return p.errf(open, "unterminated '{'")
		case p.eof():
			return nil
		case p.peek() == '}' && open >= 0:
			p.pos++
			return nil
		case p.peek() == '}':
			return p.errf(p.pos, "unexpected '}'")
		}
		if err := p.expr(prefix); err != nil {
			return err
		}
		p.skipBlanks()
		if c := p.peek(); !p.eof() && c != ',' && !isNewline(c) && c != '}' {
			return p.errf(p.pos, "unexpected %q after mutation (separate mutations with ',' or a newline)", c)
		}
	}
}

// keywordPrefix reads "rm:", "delete:", "time:" and the like, returning
// the lower-cased keyword, or "" (consuming nothing) when there is none.
func (p *mutParser) keywordPrefix() string {
	start := p.pos
	w := strings.ToLower(p.word())
	if p.peek() == ':' {
		switch w {
		case "rm", "remove", "delete", "del", "time", "file", "textfile", "base64file":
			p.pos++
			return w
		}
	}
	p.pos = start
	return ""
}
