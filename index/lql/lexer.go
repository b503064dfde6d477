package lql

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// scanner walks LQL source text byte by byte. Selector and mutation
// parsers are recursive-descent parsers on top of it; every error carries
// the byte offset where it was found.
type scanner struct {
	src string
	pos int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the current byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	if s.pos >= len(s.src) {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) hasPrefix(p string) bool { return strings.HasPrefix(s.src[s.pos:], p) }

func (s *scanner) errf(pos int, format string, args ...any) error {
	return syntaxErrorf(pos, format, args...)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func isNewline(c byte) bool { return c == '\n' }

// skipBlanks skips spaces, tabs and carriage returns, not newlines.
func (s *scanner) skipBlanks() {
	for s.pos < len(s.src) && isBlank(s.src[s.pos]) {
		s.pos++
	}
}

// skipSeparators skips blanks, newlines and commas between items.
func (s *scanner) skipSeparators() {
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		if !isBlank(c) && !isNewline(c) && c != ',' {
			return
		}
		s.pos++
	}
}

// word reads an ASCII identifier ([A-Za-z_][A-Za-z0-9_]*), or "" if none.
func (s *scanner) word() string {
	start := s.pos
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && !(s.pos > start && c >= '0' && c <= '9') {
			break
		}
		s.pos++
	}
	return s.src[start:s.pos]
}

// until reads bytes up to (not including) the first one for which stop is
// true, and returns them with trailing blanks removed.
func (s *scanner) until(stop func(byte) bool) string {
	start := s.pos
	for s.pos < len(s.src) && !stop(s.src[s.pos]) {
		s.pos++
	}
	return strings.TrimRight(s.src[start:s.pos], " \t\r")
}

// quoted reads a string in double or single quotes starting at the
// current byte. Escapes: \" \' \\ \/ \b \f \n \r \t \uXXXX (with UTF-16
// surrogate pairs). Other bytes, newlines included, are taken literally.
func (s *scanner) quoted() (string, error) {
	open := s.pos
	q := s.src[s.pos]
	s.pos++
	var b strings.Builder
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c == q:
			s.pos++
			return b.String(), nil
		case c == '\\':
			if err := s.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			s.pos++
		}
	}
	return "", s.errf(open, "unterminated quoted string")
}

func (s *scanner) escape(b *strings.Builder) error {
	at := s.pos
	if at+1 >= len(s.src) {
		return s.errf(at, "unterminated escape sequence")
	}
	c := s.src[at+1]
	s.pos += 2
	switch c {
	case '"', '\'', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, err := s.unicodeEscape(at)
		if err != nil {
			return err
		}
		b.WriteRune(r)
	default:
		return s.errf(at, "unknown escape sequence \\%c", c)
	}
	return nil
}

// unicodeEscape reads the XXXX of \uXXXX (already past "\u") and a low
// surrogate that may follow a high one. Unpaired surrogates become U+FFFD.
func (s *scanner) unicodeEscape(at int) (rune, error) {
	r, ok := hex4(s.src, s.pos)
	if !ok {
		return 0, s.errf(at, `\u must be followed by four hex digits`)
	}
	s.pos += 4
	if r < 0xD800 || r > 0xDBFF {
		if r >= 0xDC00 && r <= 0xDFFF {
			return utf8.RuneError, nil
		}
		return r, nil
	}
	if !strings.HasPrefix(s.src[s.pos:], `\u`) {
		return utf8.RuneError, nil
	}
	lo, ok := hex4(s.src, s.pos+2)
	if !ok || lo < 0xDC00 || lo > 0xDFFF {
		return utf8.RuneError, nil
	}
	s.pos += 6
	return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
}

func hex4(src string, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(src[i : i+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// jsonValue decodes one JSON value (object or array) starting at the
// current byte, with numbers as json.Number.
func (s *scanner) jsonValue() (any, error) {
	dec := json.NewDecoder(strings.NewReader(s.src[s.pos:]))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, s.errf(s.pos+max(0, int(se.Offset)-1), "invalid JSON value: %s", se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, s.errf(s.pos, "unterminated JSON value")
		default:
			return nil, s.errf(s.pos, "invalid JSON value: %v", err)
		}
	}
	s.pos += int(dec.InputOffset())
	return v, nil
}
