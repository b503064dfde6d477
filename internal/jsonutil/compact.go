// Package jsonutil validates and compacts JSON documents, from memory or as
// a stream with a size limit.
package jsonutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

var (
	// ErrTooLarge reports input beyond the caller's limit.
	ErrTooLarge = errors.New("jsonutil: payload too large")
	// ErrEmpty reports input with no JSON value.
	ErrEmpty = errors.New("jsonutil: empty input")
)

// SyntaxError reports malformed JSON at a byte offset of the input.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// CompactBytes appends the compacted form of the single JSON value in src
// to dst.
func CompactBytes(dst *bytes.Buffer, src []byte) error {
	if len(bytes.TrimSpace(src)) == 0 {
		return ErrEmpty
	}
	if err := json.Compact(dst, src); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
		}
		return &SyntaxError{Msg: err.Error()}
	}
	return nil
}

// CompactStream copies the single JSON value read from r to w in compact
// form, reading at most max bytes (max <= 0: no limit). It returns the
// number of bytes written. Nothing but white space may follow the value.
func CompactStream(w io.Writer, r io.Reader, max int64) (int64, error) {
	lr := &limitReader{r: r, left: max, limited: max > 0}
	dec := jsontext.NewDecoder(lr, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	cw := &countWriter{w: w}
	enc := jsontext.NewEncoder(cw, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true), jsontext.PreserveRawStrings(true))
	depth := 0
	for first := true; first || depth > 0; first = false {
		tok, err := dec.ReadToken()
		if err != nil {
			return cw.n, streamErr(err, lr, dec.InputOffset(), first)
		}
		switch tok.Kind() {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if err := enc.WriteToken(tok); err != nil {
			return cw.n, fmt.Errorf("jsonutil: write: %w", err)
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return cw.n, streamErr(err, lr, dec.InputOffset(), false)
	}
	// The encoder ends each top-level value with a newline; drop it by
	// counting only what precedes it.
	return cw.n, cw.flushTrim()
}

func streamErr(err error, lr *limitReader, off int64, first bool) error {
	switch {
	case lr.exceeded:
		return ErrTooLarge
	case first && err == io.EOF:
		return ErrEmpty
	case err == nil:
		return &SyntaxError{Offset: off, Msg: "unexpected data after the JSON value"}
	case errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF:
		return &SyntaxError{Offset: off, Msg: "unexpected end of input"}
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: se.ByteOffset, Msg: se.Err.Error()}
	}
	if lr.readErr != nil {
		return lr.readErr
	}
	return &SyntaxError{Offset: off, Msg: err.Error()}
}

// countWriter holds back a trailing newline so the output is exactly the
// compact value.
type countWriter struct {
	w       io.Writer
	n       int64
	pending bool
}

func (c *countWriter) Write(p []byte) (int, error) {
	total := len(p)
	if len(p) == 0 {
		return 0, nil
	}
	if c.pending {
		if _, err := c.w.Write([]byte{'\n'}); err != nil {
			return 0, err
		}
		c.n++
		c.pending = false
	}
	if p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
		c.pending = true
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		return n, err
	}
	return total, nil
}

func (c *countWriter) flushTrim() error {
	c.pending = false
	return nil
}

type limitReader struct {
	r        io.Reader
	left     int64
	limited  bool
	exceeded bool
	readErr  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.limited {
		if l.left <= 0 {
			// Probe one byte to tell "exactly at the limit" from "over it".
			var one [1]byte
			n, err := l.r.Read(one[:])
			if n > 0 {
				l.exceeded = true
				return 0, ErrTooLarge
			}
			return 0, err
		}
		if int64(len(p)) > l.left {
			p = p[:l.left]
		}
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil && err != io.EOF {
		l.readErr = err
	}
	return n, err
}
