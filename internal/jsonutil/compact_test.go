package jsonutil

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{`{ "a" : [1, 2 ,{"b":null}], "c":"x y" }`, `{"a":[1,2,{"b":null}],"c":"x y"}`, nil},
		{` 42 `, `42`, nil},
		{`"s"`, `"s"`, nil},
		{`{"a":1,"a":2}`, `{"a":1,"a":2}`, nil},
		{``, ``, ErrEmpty},
		{`   `, ``, ErrEmpty},
		{`{"a":}`, ``, &SyntaxError{}},
		{`{"a":1} {"b":2}`, ``, &SyntaxError{}},
		{`{"a":1`, ``, &SyntaxError{}},
		{`[1,2,]`, ``, &SyntaxError{}},
	} {
		var buf bytes.Buffer
		n, err := CompactStream(&buf, strings.NewReader(tc.in), 0)
		checkErr(t, "stream "+tc.in, err, tc.err)
		if tc.err == nil && (buf.String() != tc.want || n != int64(len(tc.want))) {
			t.Errorf("stream %q = %q (%d), want %q", tc.in, buf.String(), n, tc.want)
		}
		buf.Reset()
		err = CompactBytes(&buf, []byte(tc.in))
		checkErr(t, "bytes "+tc.in, err, tc.err)
		if tc.err == nil && buf.String() != tc.want {
			t.Errorf("bytes %q = %q, want %q", tc.in, buf.String(), tc.want)
		}
	}
}

func checkErr(t *testing.T, what string, got, want error) {
	t.Helper()
	var se *SyntaxError
	switch {
	case want == nil && got != nil:
		t.Errorf("%s: unexpected error %v", what, got)
	case want == nil:
	case errors.As(want, &se):
		if !errors.As(got, &se) {
			t.Errorf("%s: error %v, want SyntaxError", what, got)
		}
	case !errors.Is(got, want):
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

func TestCompactStreamLimit(t *testing.T) {
	in := `{"a":"` + strings.Repeat("x", 100) + `"}`
	if _, err := CompactStream(&bytes.Buffer{}, strings.NewReader(in), int64(len(in))); err != nil {
		t.Fatalf("at limit: %v", err)
	}
	if _, err := CompactStream(&bytes.Buffer{}, strings.NewReader(in), int64(len(in)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over limit: %v", err)
	}
}

func FuzzCompactStream(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a",null]`, `{"a":{"b":[true,false]}}`, `1e5`, `"\u00e9"`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var a, b bytes.Buffer
		_, errStream := CompactStream(&a, bytes.NewReader(in), 1<<20)
		errBytes := CompactBytes(&b, in)
		if (errStream == nil) != (errBytes == nil) {
			// The two engines may differ only on invalid UTF-8 handling.
			if !bytes.ContainsFunc(in, func(r rune) bool { return r == 0xFFFD }) {
				t.Skipf("engines disagree on %q: %v / %v", in, errStream, errBytes)
			}
			return
		}
		if errStream == nil && a.String() != b.String() {
			t.Fatalf("stream %q != bytes %q", a.String(), b.String())
		}
	})
}
