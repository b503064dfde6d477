package names

import (
	"errors"
	"testing"
)

func TestNamespace(t *testing.T) {
	for _, tc := range []struct {
		in, def, want string
		err           error
	}{
		{"", "default", "default", nil},
		{" Orders ", "default", "orders", nil},
		{".txns", "default", "", ErrReserved},
		{"a b", "default", "", ErrInvalid},
		{"", "", "", ErrEmpty},
		{string(make([]byte, 129)), "x", "", ErrInvalid},
	} {
		got, err := Namespace(tc.in, tc.def)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Namespace(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"orders/123", "orders/123", nil},
		{"/Orders/ABC", "orders/abc", nil},
		{"a//b", "", ErrInvalid},
		{"a/../b", "", ErrInvalid},
		{"a b", "", ErrInvalid},
		{"", "", ErrEmpty},
		{"k:1", "", ErrInvalid},
	} {
		got, err := Key(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Key(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"a/b", "/x", "A-b_c.d", "", "a//", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Key(s)
		if err != nil {
			return
		}
		again, err := Key(k)
		if err != nil || again != k {
			t.Fatalf("normalized key %q not stable: %q %v", k, again, err)
		}
	})
}
