package lql

import (
	"encoding/json"
	"strings"
	"time"
)

// expr parses one mutation expression under prefix.
func (p *mutParser) expr(prefix Path) error {
	start := p.pos
	kw := p.keywordPrefix()
	if kw != "" {
		p.skipBlanks()
	}
	switch kw {
	case "":
	case "time":
		return p.timeExpr(prefix, start)
	case "file", "textfile", "base64file":
		return p.errf(start, "%s: mutations read local files and are only supported by the client (set, mutate --local)", kw)
	default:
		path, err := p.path()
		if err != nil {
			return err
		}
		if p.peek() == '{' || p.peek() == '=' {
			return p.errf(p.pos, "%s: takes a path only", kw)
		}
		return p.emit(start, Mutation{Kind: MutationRemove, Path: prefix.Join(path)})
	}
	path, incr, err := p.pathOrIncrement()
	if err != nil {
		return err
	}
	full := prefix.Join(path)
	if incr != "" {
		return p.emit(start, Mutation{Kind: MutationIncrement, Path: full, Delta: json.Number(incr)})
	}
	p.skipBlanks()
	switch p.peek() {
	case '{':
		return p.list(full, p.pos1())
	case '=':
		p.pos++
		p.skipBlanks()
		return p.assignment(full, start)
	}
	return p.errf(p.pos, "expected '=', '++', '--' or '{' after path %q", path.Pointer)
}

// pos1 consumes the current byte and returns its offset.
func (p *mutParser) pos1() int {
	p.pos++
	return p.pos - 1
}

// emit records a finished mutation whose expression starts at start.
func (p *mutParser) emit(start int, m Mutation) error {
	if len(m.Path.Segments) > maxNesting {
		return p.errf(start, "path has more than %d segments", maxNesting)
	}
	p.out = append(p.out, m)
	return nil
}

// timeExpr parses, for the expression at start, the rest of "time:<path>=NOW|<RFC 3339>".
func (p *mutParser) timeExpr(prefix Path, start int) error {
	path, err := p.path()
	if err != nil {
		return err
	}
	p.skipBlanks()
	if p.peek() != '=' {
		return p.errf(p.pos, "time: needs '=' followed by NOW or an RFC 3339 timestamp")
	}
	p.pos++
	p.skipBlanks()
	at := p.pos
	text, err := p.rawValue()
	if err != nil {
		return err
	}
	full := prefix.Join(path)
	if strings.EqualFold(text, "now") {
		return p.emit(start, Mutation{Kind: MutationSetNow, Path: full})
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return p.errf(at, "time: value %q is neither NOW nor an RFC 3339 timestamp", text)
	}
	return p.emit(start, Mutation{Kind: MutationSet, Path: full, Value: FormatTime(t)})
}

// rawValue reads a quoted string or a bare word up to a separator.
func (p *mutParser) rawValue() (string, error) {
	if c := p.peek(); c == '"' || c == '\'' {
		return p.quoted()
	}
	start := p.pos
	w := p.until(valueStop)
	if w == "" {
		return "", p.errf(start, "missing value")
	}
	return w, nil
}

func valueStop(c byte) bool { return c == ',' || c == '}' || isNewline(c) }

// assignment parses what follows "<path>=" in the expression at start: "+N"/"-N" increments, a
// quoted string, a JSON object or array, or a bare word.
func (p *mutParser) assignment(full Path, start int) error {
	valStart := p.pos
	switch c := p.peek(); c {
	case '"', '\'':
		s, err := p.quoted()
		if err != nil {
			return err
		}
		return p.emit(start, Mutation{Kind: MutationSet, Path: full, Value: s})
	case '{', '[':
		v, err := p.jsonValue()
		if err != nil {
			return err
		}
		return p.emit(start, Mutation{Kind: MutationSet, Path: full, Value: v})
	}
	w := p.until(valueStop)
	switch {
	case w == "":
		return p.errf(valStart, `missing value (write "" for an empty string)`)
	case isDelta(w):
		return p.emit(start, Mutation{Kind: MutationIncrement, Path: full, Delta: json.Number(strings.TrimPrefix(w, "+"))})
	}
	return p.emit(start, Mutation{Kind: MutationSet, Path: full, Value: inferBare(w).Value()})
}

// isDelta reports whether w is "+N" or "-N" with N a JSON number.
func isDelta(w string) bool {
	switch {
	case strings.HasPrefix(w, "+"):
		return !strings.HasPrefix(w, "+-") && isJSONNumber(w[1:])
	case strings.HasPrefix(w, "-"):
		return isJSONNumber(w)
	}
	return false
}

// pathOrIncrement reads a path and a trailing "++" or "--" (returned as
// the delta "1" or "-1") when a separator or the end follows it.
func (p *mutParser) pathOrIncrement() (Path, string, error) {
	start := p.pos
	quotedPath := p.peek() == '"' || p.peek() == '\''
	text, err := p.pathText()
	if err != nil {
		return Path{}, "", err
	}
	incr := ""
	if quotedPath {
		if p.hasPrefix("++") || p.hasPrefix("--") {
			incr = p.src[p.pos : p.pos+2]
			p.pos += 2
		}
	} else if (strings.HasSuffix(text, "++") || strings.HasSuffix(text, "--")) && p.peek() != '=' && p.peek() != '{' {
		incr = text[len(text)-2:]
		text = strings.TrimRight(text[:len(text)-2], " \t\r")
	}
	path, err := p.parsePath(text, start, quotedPath)
	if err != nil {
		return Path{}, "", err
	}
	switch incr {
	case "++":
		return path, "1", nil
	case "--":
		return path, "-1", nil
	}
	return path, "", nil
}

// path reads a path that must not be followed by ++/--.
func (p *mutParser) path() (Path, error) {
	start := p.pos
	quotedPath := p.peek() == '"' || p.peek() == '\''
	text, err := p.pathText()
	if err != nil {
		return Path{}, err
	}
	return p.parsePath(text, start, quotedPath)
}

func (p *mutParser) pathText() (string, error) {
	if c := p.peek(); c == '"' || c == '\'' {
		return p.quoted()
	}
	return p.until(func(c byte) bool { return c == '=' || c == '{' || valueStop(c) }), nil
}

// parsePath parses a mutation path: a JSON Pointer, or a bare name such as
// "meta" that is read as "/meta". The root itself cannot be mutated.
func (p *mutParser) parsePath(text string, start int, quotedPath bool) (Path, error) {
	if text == "" {
		return Path{}, p.errf(start, "missing path (a JSON Pointer such as /status)")
	}
	offset := 0
	if text[0] != '/' {
		text = "/" + text
		offset = -1
	}
	path, err := ParsePath(text)
	if err != nil {
		se := err.(*SyntaxError)
		if quotedPath {
			se.Pos = start
		} else {
			se.Pos = max(start, start+se.Pos+offset)
		}
		return Path{}, se
	}
	return path, nil
}
