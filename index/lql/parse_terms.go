package lql

import "strings"

// isTermOp reports whether op (lower case) names a leaf clause.
func isTermOp(op string) bool {
	switch op {
	case "eq", "in", "range", "date", "exists", "prefix", "iprefix", "contains", "icontains":
		return true
	}
	return false
}

// termArgs holds the arguments of one "op{...}" clause.
type termArgs struct {
	op         string
	opPos      int
	field      *Path
	ignoreCase *bool
	any        []Literal
	lits       map[string]Literal // value, gt, gte, lt, lte, after, before
	pos        map[string]int     // argument name → offset of its value
}

// term parses the operator clause whose name (already read) starts at
// start: "op{args}", or "exists=<pointer>".
func (p *selParser) term(op string, start int) (Node, error) {
	if op == "exists" && p.peek() == '=' {
		p.pos++
		p.skipBlanks()
		f, err := p.pointer(func(c byte) bool { return c == ',' || isNewline(c) || c == '}' })
		if err != nil {
			return nil, err
		}
		return Exists{Field: f}, nil
	}
	if p.peek() != '{' {
		return nil, p.errf(p.pos, "expected '{' after %q", op)
	}
	a := &termArgs{op: op, opPos: start, lits: map[string]Literal{}, pos: map[string]int{}}
	if err := p.args(a); err != nil {
		return nil, err
	}
	return a.node()
}

// args parses "{name=value ...}" separated by commas, newlines or blanks.
func (p *selParser) args(a *termArgs) error {
	open := p.pos
	p.pos++
	for {
		p.skipSeparators()
		switch {
		case p.eof():
			return p.errf(open, "unterminated '{'")
		case p.peek() == '}':
			p.pos++
			return nil
		}
		if err := p.arg(a); err != nil {
			return err
		}
		if c := p.peek(); !p.eof() && c != ',' && c != '}' && !isBlank(c) && !isNewline(c) {
			return p.errf(p.pos, "unexpected %q after argument value", c)
		}
	}
}

func argStop(c byte) bool { return c == ',' || c == '}' || isBlank(c) || isNewline(c) }

func (p *selParser) arg(a *termArgs) error {
	start := p.pos
	if c := p.peek(); a.op == "exists" && (c == '/' || c == '"' || c == '\'') {
		return p.fieldArg(a, start, func(c byte) bool { return c == ',' || c == '}' || isNewline(c) })
	}
	raw := p.word()
	if raw == "" {
		return p.errf(start, "expected an argument name such as field= or value=")
	}
	name, ok := canonicalArg(a.op, strings.ToLower(raw))
	if !ok {
		return p.errf(start, "unknown argument %q for %s", raw, a.op)
	}
	if _, dup := a.pos[name]; dup {
		return p.errf(start, "duplicate argument %q", raw)
	}
	p.skipBlanks()
	if p.peek() != '=' {
		return p.errf(p.pos, "expected '=' after %q", raw)
	}
	p.pos++
	p.skipBlanks()
	switch name {
	case "field":
		return p.fieldArg(a, p.pos, argStop)
	case "ignorecase":
		return p.ignoreCaseArg(a)
	case "any":
		return p.anyArg(a)
	case "since":
		return p.errf(start, "date since= is not supported; use after= or gte=")
	}
	a.pos[name] = p.pos
	lit, err := p.literal(argStop)
	if err != nil {
		return err
	}
	a.lits[name] = lit
	return nil
}

// canonicalArg maps an argument name or alias to its canonical name and
// reports whether op accepts it.
func canonicalArg(op, name string) (string, bool) {
	switch name {
	case "f":
		name = "field"
	case "v":
		name = "value"
	case "ic":
		name = "ignorecase"
	case "a":
		name = "any"
		if op == "date" {
			name = "after"
		}
	case "b":
		name = "before"
	}
	var allowed string
	switch op {
	case "eq":
		allowed = "field value any"
	case "in":
		allowed = "field any"
	case "range":
		allowed = "field gt gte lt lte"
	case "date":
		allowed = "field value after before gt gte lt lte since"
	case "exists":
		allowed = "field"
	default: // prefix, iprefix, contains, icontains
		allowed = "field value any ignorecase"
	}
	for _, w := range strings.Fields(allowed) {
		if w == name {
			return name, true
		}
	}
	return "", false
}

func (p *selParser) fieldArg(a *termArgs, start int, stop func(byte) bool) error {
	if a.field != nil {
		return p.errf(start, "duplicate field")
	}
	a.pos["field"] = start
	f, err := p.pointer(stop)
	if err != nil {
		return err
	}
	a.field = &f
	return nil
}

func (p *selParser) ignoreCaseArg(a *termArgs) error {
	a.pos["ignorecase"] = p.pos
	lit, err := p.literal(argStop)
	if err != nil {
		return err
	}
	b, ok := parseFlag(lit)
	if !ok {
		return p.errf(a.pos["ignorecase"], "ignoreCase must be true, false, t or f")
	}
	a.ignoreCase = &b
	return nil
}

func parseFlag(l Literal) (bool, bool) {
	if l.Kind == KindBool {
		return l.Bool, true
	}
	switch strings.ToLower(l.Text) {
	case "true", "t":
		return true, l.Kind == KindString
	case "false", "f":
		return false, l.Kind == KindString
	}
	return false, false
}

// anyArg reads "a|b|c" (bare words typed one by one), a quoted "a|b"
// (all strings) or a JSON array of scalars.
func (p *selParser) anyArg(a *termArgs) error {
	start := p.pos
	a.pos["any"] = start
	switch p.peek() {
	case '[':
		lits, err := p.literalList()
		if err != nil {
			return err
		}
		a.any = lits
	case '"', '\'':
		s, err := p.quoted()
		if err != nil {
			return err
		}
		for _, part := range strings.Split(s, "|") {
			if part = strings.TrimSpace(part); part != "" {
				a.any = append(a.any, String(part))
			}
		}
	default:
		for _, part := range strings.Split(p.until(argStop), "|") {
			if part = strings.TrimSpace(part); part != "" {
				a.any = append(a.any, inferBare(part))
			}
		}
	}
	if len(a.any) == 0 {
		return p.errf(start, "any= needs at least one value")
	}
	return nil
}

// literalList reads "[lit, lit, ...]": quoted strings or bare words typed
// by inferBare, so a JSON array of scalars is accepted as is.
func (p *selParser) literalList() ([]Literal, error) {
	open := p.pos
	p.pos++
	var out []Literal
	for {
		p.skipSeparators()
		switch {
		case p.eof():
			return nil, p.errf(open, "unterminated '['")
		case p.peek() == ']':
			p.pos++
			return out, nil
		}
		lit, err := p.literal(func(c byte) bool { return c == ',' || c == ']' || isBlank(c) || isNewline(c) })
		if err != nil {
			return nil, err
		}
		out = append(out, lit)
		if c := p.peek(); !p.eof() && c != ',' && c != ']' && !isBlank(c) && !isNewline(c) {
			return nil, p.errf(p.pos, "unexpected %q in list", c)
		}
	}
}
