package objstore

import (
	"strings"
	"testing"
)

func TestEscapeExamples(t *testing.T) {
	for key, want := range map[string]string{
		"":            "",
		"ns/a":        "ns.2Fa",
		".txns/abc":   ".2Etxns.2Fabc",
		"a b/c":       "a!20b.2Fc",
		"x/../y":      "x.2F.2E.2E.2Fy",
		"q/%2F":       "q.2F!252F",
		"k\xff":       "k~FF",
		"snake_case":  "snake_5Fcase",
		"Key-9":       "Key-9",
		"a:b@c[d]{e}": "a=3Ab=40c_5Bd_5D~7Be~7D",
	} {
		if got := Escape(key); got != want {
			t.Errorf("Escape(%q) = %q, want %q", key, got, want)
		}
		if back, err := Unescape(want); err != nil || back != key {
			t.Errorf("Unescape(%q) = %q, %v", want, back, err)
		}
	}
}

func TestUnescapeRejectsForeignNames(t *testing.T) {
	for _, name := range []string{"a/b", "a.", "a.2", "a.2G", "a!41", "a.41", "a~2F", "a b", "é"} {
		if _, err := Unescape(name); err == nil {
			t.Errorf("Unescape(%q) succeeded", name)
		}
	}
}

// FuzzEscape checks that escaping round-trips, yields names without '/'
// and preserves both byte order and prefixes.
func FuzzEscape(f *testing.F) {
	f.Add("a", "a/b")
	f.Add("x/../y", "x/.")
	f.Add("k\xff", "k~")
	f.Add("Z", "_")
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := Escape(a), Escape(b)
		if back, err := Unescape(ea); err != nil || back != a {
			t.Fatalf("round trip %q: %q %v", a, back, err)
		}
		if strings.ContainsAny(ea, "/\\ ") {
			t.Fatalf("Escape(%q) = %q has a separator", a, ea)
		}
		if (a < b) != (ea < eb) || (a == b) != (ea == eb) {
			t.Fatalf("order: %q<%q is %v but %q<%q is %v", a, b, a < b, ea, eb, ea < eb)
		}
		if strings.HasPrefix(b, a) != strings.HasPrefix(eb, ea) {
			t.Fatalf("prefix: %q, %q vs %q, %q", a, b, ea, eb)
		}
	})
}
