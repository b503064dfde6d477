package index

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// cursorPrefix versions the cursor format.
const cursorPrefix = "k1."

// maxCursorKey bounds the key a cursor may carry.
const maxCursorKey = 1024

// EncodeCursor returns the opaque cursor that resumes a query strictly
// after key. Both engines order results by key, so a cursor from one is
// valid for the other.
func EncodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeCursor returns the key a cursor resumes after ("" for the empty
// cursor). Errors wrap ErrInvalidCursor.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok {
		return "", fmt.Errorf("%w: unknown format", ErrInvalidCursor)
	}
	if len(rest) > base64.RawURLEncoding.EncodedLen(maxCursorKey) {
		return "", fmt.Errorf("%w: too long", ErrInvalidCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidCursor, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%w: empty key", ErrInvalidCursor)
	}
	return string(b), nil
}
