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

// FuzzCompactStream checks that the streaming and the in-memory engines
// agree on every input: both accept it with the same compact output, or
// both refuse it. The server picks one or the other by body size, so a
// disagreement would make a document's fate depend on how it was sent.
func FuzzCompactStream(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a",null]`, `{"a":{"b":[true,false]}}`, `1e5`, `"\u00e9"`, `{`, "\"\xff\"", `"\ud800"`, "\"a\tb\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var a, b bytes.Buffer
		_, errStream := CompactStream(&a, bytes.NewReader(in), 0)
		errBytes := CompactBytes(&b, in)
		if (errStream == nil) != (errBytes == nil) {
			t.Fatalf("engines disagree on %q: stream %v / bytes %v", in, errStream, errBytes)
		}
		if errStream == nil && a.String() != b.String() {
			t.Fatalf("on %q: stream %q != bytes %q", in, a.String(), b.String())
		}
	})
}
