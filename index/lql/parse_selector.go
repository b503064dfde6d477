package lql

import (
	"strconv"
	"strings"
)

// ParseSelector parses LQL selector text: clauses separated by commas or
// newlines, all of which must match (see the package documentation for
// the grammar). Empty or blank text is the empty selector, which matches
// every document. Errors are *SyntaxError.
func ParseSelector(text string) (*Selector, error) {
	root, err := parseSelectorNode(text)
	if err != nil {
		return nil, err
	}
	return newCompiled(root)
}

func parseSelectorNode(text string) (Node, error) {
	p := &selParser{scanner: scanner{src: text}}
	top := &conj{}
	if err := p.list(-1, func() error { return p.item(top) }); err != nil {
		return nil, err
	}
	return top.build(), nil
}

// maxNesting bounds qualifier chains, brace groups and mutation paths, so
// hostile input cannot drive the recursive parser, evaluator or Apply
// arbitrarily deep. encoding/json stops at 10000 levels; real selectors
// and documents stay far below this.
const maxNesting = 1000

type selParser struct {
	scanner
	depth int
}

// list parses items separated by commas or newlines until the end of
// input (open < 0) or the '}' matching the '{' at offset open, which it
// consumes.
func (p *selParser) list(open int, item func() error) error {
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
		if err := item(); err != nil {
			return err
		}
		p.skipBlanks()
		if c := p.peek(); !p.eof() && c != ',' && !isNewline(c) && c != '}' {
			return p.errf(p.pos, "unexpected %q after clause (separate clauses with ',' or a newline)", c)
		}
	}
}

// item parses one clause, with any qualifier chain, into c.
func (p *selParser) item(c *conj) error {
	if p.depth++; p.depth > maxNesting {
		return p.errf(p.pos, "selector nested more than %d levels deep", maxNesting)
	}
	defer func() { p.depth-- }()
	switch p.peek() {
	case '/', '"', '\'':
		n, err := p.shorthand()
		if err != nil {
			return err
		}
		c.add(n)
		return nil
	}
	start := p.pos
	word := strings.ToLower(p.word())
	switch word {
	case "":
		return p.errf(start, "expected a selector clause (a JSON Pointer such as /status, or an operator such as eq{...})")
	case "and", "or":
		return p.logical(c, word, start)
	case "not":
		return p.not(c)
	}
	if !isTermOp(word) {
		return p.errf(start, "unknown selector operator %q (shorthand fields must start with '/')", word)
	}
	n, err := p.term(word, start)
	if err != nil {
		return err
	}
	c.add(n)
	return nil
}

// logical handles "and"/"or" followed by ".", ".N." or a brace group.
func (p *selParser) logical(c *conj, word string, start int) error {
	if p.peek() == '{' {
		n, err := p.group(word == "or")
		if err != nil {
			return err
		}
		c.add(n)
		return nil
	}
	if p.peek() != '.' {
		return p.errf(p.pos, "expected '.' or '{' after %q", word)
	}
	p.pos++
	idx, err := p.index()
	if err != nil {
		return err
	}
	if word == "and" {
		return p.item(c.andSlot(idx))
	}
	return p.item(c.orSlot(idx))
}

// index reads an optional "N." group index, returning -1 when absent.
func (p *selParser) index() (int, error) {
	start := p.pos
	for !p.eof() && p.peek() >= '0' && p.peek() <= '9' {
		p.pos++
	}
	if p.pos == start {
		return -1, nil
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil || n > 1<<20 {
		return 0, p.errf(start, "group index %q out of range", p.src[start:p.pos])
	}
	if p.peek() != '.' {
		return 0, p.errf(p.pos, "expected '.' after group index")
	}
	p.pos++
	return n, nil
}

func (p *selParser) not(c *conj) error {
	inner := &conj{}
	switch p.peek() {
	case '{':
		n, err := p.group(false)
		if err != nil {
			return err
		}
		c.add(Not{Child: n})
		return nil
	case '.':
		p.pos++
		if err := p.item(inner); err != nil {
			return err
		}
		c.add(Not{Child: inner.build()})
		return nil
	}
	return p.errf(p.pos, "expected '.' or '{' after \"not\"")
}

// group parses "{ items }". For an OR group every item is built on its own
// and becomes one alternative; otherwise the items form one conjunction.
func (p *selParser) group(or bool) (Node, error) {
	open := p.pos
	p.pos++
	var alts []Node
	all := &conj{}
	err := p.list(open, func() error {
		if !or {
			return p.item(all)
		}
		alt := &conj{}
		if err := p.item(alt); err != nil {
			return err
		}
		alts = appendOr(alts, alt.build())
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := all.build()
	if or {
		n = collapse(alts, false)
	}
	if n == nil {
		return nil, p.errf(open, "empty '{}' group")
	}
	return n, nil
}

// shorthand parses "<pointer> <op> <value>" with op one of = == != > >= < <=.
func (p *selParser) shorthand() (Node, error) {
	field, err := p.pointer(func(c byte) bool {
		return c == '=' || c == '!' || c == '<' || c == '>' || c == ',' || isNewline(c) || c == '}'
	})
	if err != nil {
		return nil, err
	}
	p.skipBlanks()
	opPos := p.pos
	op := p.operator()
	if op == "" {
		return nil, p.errf(opPos, "expected a comparison operator (=, !=, >, >=, <, <=) after %q", field.Pointer)
	}
	p.skipBlanks()
	valPos := p.pos
	lit, err := p.literal(func(c byte) bool { return c == ',' || isNewline(c) || c == '}' })
	if err != nil {
		return nil, err
	}
	return shorthandNode(field, op, lit, valPos)
}

func (p *selParser) operator() string {
	for _, op := range []string{"==", "!=", ">=", "<=", "=", ">", "<"} {
		if p.hasPrefix(op) {
			p.pos += len(op)
			return op
		}
	}
	return ""
}

func shorthandNode(field Path, op string, lit Literal, valPos int) (Node, error) {
	switch op {
	case "=", "==":
		return Eq{Field: field, Value: lit}, nil
	case "!=":
		return Not{Child: Eq{Field: field, Value: lit}}, nil
	}
	if boundMode(lit) == RangeInvalid {
		return nil, syntaxErrorf(valPos, "%s needs a number, a timestamp or a string, not %s", op, lit.Kind)
	}
	r := Range{Field: field}
	switch op {
	case ">":
		r.GT = &lit
	case ">=":
		r.GTE = &lit
	case "<":
		r.LT = &lit
	default:
		r.LTE = &lit
	}
	return r, nil
}

// pointer reads a JSON Pointer, quoted or bare up to a byte for which stop
// is true, and parses it.
func (p *selParser) pointer(stop func(byte) bool) (Path, error) {
	start := p.pos
	var text string
	if c := p.peek(); c == '"' || c == '\'' {
		s, err := p.quoted()
		if err != nil {
			return Path{}, err
		}
		text = s
	} else {
		text = p.until(stop)
	}
	if text == "" {
		return Path{}, p.errf(start, "missing field (a JSON Pointer such as /status)")
	}
	path, err := ParsePath(text)
	if err != nil {
		se := err.(*SyntaxError)
		if p.src[start] != '"' && p.src[start] != '\'' {
			se.Pos += start
		} else {
			se.Pos = start
		}
		return Path{}, se
	}
	return path, nil
}

// literal reads a quoted string or a bare word up to a byte for which stop
// is true; bare words are typed by inferBare.
func (p *selParser) literal(stop func(byte) bool) (Literal, error) {
	if c := p.peek(); c == '"' || c == '\'' {
		s, err := p.quoted()
		return String(s), err
	}
	start := p.pos
	word := p.until(stop)
	if word == "" {
		return Literal{}, p.errf(start, "missing value")
	}
	return inferBare(word), nil
}
