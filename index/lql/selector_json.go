package lql

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ParseJSONSelector parses the selector object that travels in the
// "selector" field of a /v1/query body, e.g.
//
//	{"and":[{"eq":{"field":"/status","value":"open"}},
//	        {"range":{"field":"/progress","gte":50}}]}
//
// Keys: and, or (arrays of selectors), not (a selector), eq, contains,
// icontains, prefix, iprefix ({field, value | any, ignoreCase}), in
// ({field, any}), range ({field, gt, gte, lt, lte}), date ({field, value,
// after, before, gt, gte, lt, lte}) and exists (a pointer string). Several
// keys in one object must all match. Empty input, null and {} are the
// empty selector; empty and/or arrays are ignored, as lockd v0.9 does.
// A field without a leading '/' is read as if it had one ("type" is
// "/type"). Errors are *SyntaxError with Pos a byte offset into data.
func ParseJSONSelector(data []byte) (*Selector, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Selector{}, nil
	}
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	root, err := p.topLevel()
	if err != nil {
		return nil, err
	}
	return newCompiled(root)
}

// UnmarshalJSON implements json.Unmarshaler with ParseJSONSelector, so a
// Selector can be a field of a request struct.
func (s *Selector) UnmarshalJSON(data []byte) error {
	parsed, err := ParseJSONSelector(data)
	if err != nil {
		return err
	}
	*s = *parsed
	return nil
}

// jsonParser walks the token stream of a JSON selector, keeping byte
// offsets for error messages.
type jsonParser struct {
	data []byte
	dec  *json.Decoder
}

// next returns the next token and the offset where it starts.
func (p *jsonParser) next() (json.Token, int, error) {
	pos := int(p.dec.InputOffset())
	for pos < len(p.data) {
		c := p.data[pos]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ',' && c != ':' {
			break
		}
		pos++
	}
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, int(se.Offset), syntaxErrorf(int(se.Offset), "invalid JSON: %s", se.Error())
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, pos, syntaxErrorf(pos, "unexpected end of JSON input")
		}
		return nil, pos, syntaxErrorf(pos, "invalid JSON: %v", err)
	}
	return tok, pos, nil
}

func (p *jsonParser) topLevel() (Node, error) {
	tok, pos, err := p.next()
	if err != nil {
		return nil, err
	}
	var root Node
	switch tok {
	case nil:
	case json.Delim('{'):
		if root, err = p.object(pos); err != nil {
			return nil, err
		}
	default:
		return nil, syntaxErrorf(pos, "selector must be a JSON object")
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, syntaxErrorf(int(p.dec.InputOffset()), "unexpected data after the selector object")
	}
	return root, nil
}

// selector reads one selector object (after nothing has been consumed).
func (p *jsonParser) selector() (Node, int, error) {
	tok, pos, err := p.next()
	if err != nil {
		return nil, pos, err
	}
	if tok != json.Delim('{') {
		return nil, pos, syntaxErrorf(pos, "expected a selector object")
	}
	n, err := p.object(pos)
	return n, pos, err
}

// object reads the members of a selector object whose '{' is at open and
// returns the AND of its clauses (nil for none).
func (p *jsonParser) object(open int) (Node, error) {
	var kids []Node
	seen := map[string]bool{}
	for {
		tok, pos, err := p.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return collapse(kids, true), nil
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, syntaxErrorf(pos, "duplicate key %q", key)
		}
		seen[key] = true
		n, err := p.clause(key, pos)
		if err != nil {
			return nil, err
		}
		if n != nil {
			kids = append(kids, n)
		}
	}
}

func (p *jsonParser) clause(key string, pos int) (Node, error) {
	switch key {
	case "and", "or":
		return p.logical(key == "or")
	case "not":
		n, at, err := p.selector()
		if err == nil && n == nil {
			err = syntaxErrorf(at, "not needs a non-empty selector")
		}
		return Not{Child: n}, err
	case "exists":
		f, err := p.fieldString()
		return Exists{Field: f}, err
	case "eq", "in", "range", "date", "prefix", "iprefix", "contains", "icontains":
		return p.term(key, pos)
	}
	return nil, syntaxErrorf(pos, "unknown selector key %q", key)
}

// logical reads the array of an "and"/"or" key.
func (p *jsonParser) logical(or bool) (Node, error) {
	tok, pos, err := p.next()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, syntaxErrorf(pos, "expected an array of selectors")
	}
	kids := []Node{}
	for p.dec.More() {
		n, at, err := p.selector()
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, syntaxErrorf(at, "empty selector inside and/or")
		}
		kids = append(kids, n)
	}
	if _, _, err := p.next(); err != nil { // ']'
		return nil, err
	}
	switch {
	case len(kids) == 0:
		return nil, nil
	case or:
		return Or{Children: kids}, nil
	}
	return And{Children: kids}, nil
}
