package crypt

import (
	"bytes"
	"crypto/aes"
)

// KeyWrapForTest wraps data under kek and checks that it unwraps.
func KeyWrapForTest(kek, data []byte) ([]byte, bool) {
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, false
	}
	w := wrap(b, data)
	back, ok := unwrap(b, w)
	return w, ok && bytes.Equal(back, data)
}
