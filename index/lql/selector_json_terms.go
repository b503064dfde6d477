package lql

import (
	"encoding/json"
	"strings"
)

// term reads the object of a leaf key such as "eq" or "range"; pos is the
// offset of the key, used for errors about the term as a whole.
func (p *jsonParser) term(op string, pos int) (Node, error) {
	tok, at, err := p.next()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, syntaxErrorf(at, "%s must be an object", op)
	}
	a := &termArgs{op: op, opPos: pos, lits: map[string]Literal{}, pos: map[string]int{}}
	for {
		tok, kpos, err := p.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return a.node()
		}
		if err := p.termMember(a, tok.(string), kpos); err != nil {
			return nil, err
		}
	}
}

func (p *jsonParser) termMember(a *termArgs, key string, kpos int) error {
	lower := strings.ToLower(key)
	name, ok := canonicalArg(a.op, lower)
	if !ok || (name != lower && lower != "ignorecase") {
		return syntaxErrorf(kpos, "unknown key %q in %s", key, a.op)
	}
	if _, dup := a.pos[name]; dup {
		return syntaxErrorf(kpos, "duplicate key %q", key)
	}
	tok, vpos, err := p.next()
	if err != nil {
		return err
	}
	a.pos[name] = vpos
	switch name {
	case "field":
		f, err := jsonField(tok, vpos)
		a.field = &f
		return err
	case "any":
		return p.jsonAny(a, tok, vpos)
	case "ignorecase":
		lit, ok := literalFromJSON(tok)
		b, flagOK := parseFlag(lit)
		if !ok || !flagOK {
			return syntaxErrorf(vpos, "ignoreCase must be a boolean")
		}
		a.ignoreCase = &b
		return nil
	case "since":
		return syntaxErrorf(kpos, "date since is not supported; use after or gte")
	}
	lit, ok := literalFromJSON(tok)
	if !ok {
		return syntaxErrorf(vpos, "%s must be a string, number, boolean or null", key)
	}
	a.lits[name] = lit
	return nil
}

// fieldString reads the pointer string of an "exists" key.
func (p *jsonParser) fieldString() (Path, error) {
	tok, pos, err := p.next()
	if err != nil {
		return Path{}, err
	}
	return jsonField(tok, pos)
}

// jsonField parses a field string, reading "type" as "/type".
func jsonField(tok json.Token, pos int) (Path, error) {
	s, ok := tok.(string)
	if !ok || s == "" {
		return Path{}, syntaxErrorf(pos, "field must be a non-empty JSON Pointer string")
	}
	if s[0] != '/' {
		s = "/" + s
	}
	f, err := ParsePath(s)
	if err != nil {
		return Path{}, syntaxErrorf(pos, "%s", err.(*SyntaxError).Msg)
	}
	return f, nil
}

// jsonAny reads "any": an array of scalars, a "a|b" string or one scalar.
func (p *jsonParser) jsonAny(a *termArgs, tok json.Token, pos int) error {
	switch x := tok.(type) {
	case json.Delim:
		if x != '[' {
			return syntaxErrorf(pos, "any must be an array")
		}
		for p.dec.More() {
			t, ipos, err := p.next()
			if err != nil {
				return err
			}
			lit, ok := literalFromJSON(t)
			if !ok {
				return syntaxErrorf(ipos, "any items must be strings, numbers, booleans or null")
			}
			a.any = append(a.any, lit)
		}
		if _, _, err := p.next(); err != nil {
			return err
		}
	case string:
		for _, part := range strings.Split(x, "|") {
			if part = strings.TrimSpace(part); part != "" {
				a.any = append(a.any, String(part))
			}
		}
	default:
		lit, _ := literalFromJSON(tok)
		a.any = append(a.any, lit)
	}
	if len(a.any) == 0 {
		return syntaxErrorf(pos, "any needs at least one value")
	}
	return nil
}
