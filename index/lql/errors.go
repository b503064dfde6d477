package lql

import (
	"errors"
	"fmt"
)

// ErrInvalidSelector reports a selector AST that cannot be evaluated, for
// example a range without bounds, when it was built in Go rather than parsed.
// Parse functions report the same problems as *SyntaxError instead.
var ErrInvalidSelector = errors.New("lql: invalid selector")

// SyntaxError reports why an LQL selector, mutation or JSON selector could
// not be parsed. An HTTP layer answers it with 400 and Error() as detail.
type SyntaxError struct {
	// Expr is the 1-based index of the offending expression when several
	// expressions were parsed together (ParseMutations with more than one
	// argument), and 0 otherwise.
	Expr int
	// Pos is the 0-based byte offset in that expression (or JSON document)
	// where the problem was detected.
	Pos int
	// Msg says what is wrong, in lower case without a trailing period.
	Msg string
}

// Error names the position and the reason.
func (e *SyntaxError) Error() string {
	if e.Expr > 0 {
		return fmt.Sprintf("lql: expression %d, byte %d: %s", e.Expr, e.Pos, e.Msg)
	}
	return fmt.Sprintf("lql: byte %d: %s", e.Pos, e.Msg)
}

func syntaxErrorf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// ApplyError reports a mutation that parsed but cannot be applied to the
// document, e.g. an increment of a string. Apply returns the document
// unchanged together with it.
type ApplyError struct {
	// Path is the JSON Pointer of the mutation that failed.
	Path string
	// Msg says why, in lower case without a trailing period.
	Msg string
}

// Error names the path and the reason.
func (e *ApplyError) Error() string {
	return fmt.Sprintf("lql: cannot apply mutation at %q: %s", e.Path, e.Msg)
}
