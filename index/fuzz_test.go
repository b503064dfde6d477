package index_test

import (
	"testing"

	"github.com/lockdhq/lockd/index"
)

// FuzzCursor: decoding never panics, and a decoded cursor re-encodes to
// a cursor that decodes to the same key.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "k1.YQ", "k1.", "k1.!!", "x", index.EncodeCursor("a/b/c")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		k, err := index.DecodeCursor(c)
		if err != nil || k == "" {
			return
		}
		k2, err := index.DecodeCursor(index.EncodeCursor(k))
		if err != nil || k2 != k {
			t.Fatalf("round trip of %q: %q %v", k, k2, err)
		}
	})
}
