package lql

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// mutString renders mutations compactly for table tests.
func mutString(ms []Mutation) string {
	var parts []string
	for _, m := range ms {
		switch m.Kind {
		case MutationSet:
			v, _ := json.Marshal(m.Value)
			parts = append(parts, fmt.Sprintf("set %s %s", m.Path.Pointer, v))
		case MutationIncrement:
			parts = append(parts, fmt.Sprintf("add %s %s", m.Path.Pointer, m.Delta))
		case MutationRemove:
			parts = append(parts, "rm "+m.Path.Pointer)
		case MutationSetNow:
			parts = append(parts, "now "+m.Path.Pointer)
		}
	}
	return strings.Join(parts, "; ")
}

func TestParseMutations(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		// Seed README: lockd client mutate / set / edit examples.
		{[]string{"/progress/step=fetch", "/progress/count++", "time:/progress/updated=NOW"},
			`set /progress/step "fetch"; add /progress/count 1; now /progress/updated`},
		{[]string{`/data{/hello key="mars traveler",/count++}`, "/meta/previous=world", "time:/meta/processed=NOW"},
			`set /data/hello key "mars traveler"; add /data/count 1; set /meta/previous "world"; now /meta/processed`},
		{[]string{"/status/counter++"}, `add /status/counter 1`},
		{[]string{`/progress/step="done"`, "/progress/count=+5"}, `set /progress/step "done"; add /progress/count 5`},
		{[]string{`meta{/owner="alice",/previous="world"}`}, `set /meta/owner "alice"; set /meta/previous "world"`},
		{[]string{"/filename=blob.bin"}, `set /filename "blob.bin"`},
		// Arithmetic, removal, time.
		{[]string{"/c--", "/c=+3", "/c=-2.5", "/c=+1e3"}, `add /c -1; add /c 3; add /c -2.5; add /c 1e3`},
		{[]string{"rm:/a", "delete:/b", "remove:/c", "del:/d", "RM:/e", "rm: /f"}, `rm /a; rm /b; rm /c; rm /d; rm /e; rm /f`},
		{[]string{"time:/t=now", "time:/t=2025-11-07T03:00:00+01:00", `time:/t="2025-11-07T02:00:00.5Z"`},
			`now /t; set /t "2025-11-07T02:00:00Z"; set /t "2025-11-07T02:00:00.5Z"`},
		// Values.
		{[]string{"/n=5", "/f=-0", `/s="5"`, "/b=true", "/z=null", "/x=hello world", `/q='it\'s'`},
			`set /n 5; add /f -0; set /s "5"; set /b true; set /z null; set /x "hello world"; set /q "it's"`},
		{[]string{`/j={"a":[1,2.5,"x"]}`, `/k=[]`, `/s="a,b}"`}, `set /j {"a":[1,2.5,"x"]}; set /k []; set /s "a,b}"`},
		{[]string{"/n=-x", "/m=+", "/o=+-3", "/p=--1"}, `set /n "-x"; set /m "+"; set /o "+-3"; set /p "--1"`},
		// Separators, nesting, odd paths.
		{[]string{"/foo=bar,/count=1", "/count++"}, `set /foo "bar"; set /count 1; add /count 1`},
		{[]string{"\n/state/details{\n  /owner = \"alice\"\n  /note = \"hi, world\"\n}\ndelete:/state/details/temporary\n/state/count=+4\n/state/count--\n"},
			`set /state/details/owner "alice"; set /state/details/note "hi, world"; rm /state/details/temporary; add /state/count 4; add /state/count -1`},
		{[]string{"/a{/b{/c=1,rm:/d},time:/e=NOW,/f--}"}, `set /a/b/c 1; rm /a/b/d; now /a/e; add /a/f -1`},
		{[]string{`/a~1b/c~0d=1`, `"/we=ird"=2`, `"/x y"++`, `/p++=3`, `/=root key`}, `set /a~1b/c~0d 1; set /we=ird 2; add /x y 1; set /p++ 3; set / "root key"`},
		{[]string{"/data/hello key=Mars,/data/count++,/meta/name=hellomarser"}, `set /data/hello key "Mars"; add /data/count 1; set /meta/name "hellomarser"`},
	} {
		ms, err := ParseMutations(tc.in...)
		if err != nil {
			t.Errorf("ParseMutations(%q): %v", tc.in, err)
			continue
		}
		if got := mutString(ms); got != tc.want {
			t.Errorf("ParseMutations(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestParseMutationsErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		expr int
		pos  int
		msg  string
	}{
		{[]string{}, 0, 0, "no mutations"},
		{[]string{" , \n"}, 0, 0, "no mutations"},
		{[]string{"/broken"}, 0, 7, "expected '=', '++', '--' or '{'"},
		{[]string{"badexpr"}, 0, 7, "expected '=', '++', '--' or '{'"},
		{[]string{`/state/details{/owner="alice"`}, 0, 14, "unterminated '{'"},
		{[]string{"/a=1}"}, 0, 4, "unexpected '}'"},
		{[]string{"/a="}, 0, 3, "missing value"},
		{[]string{"/ok=1", `/a="x`}, 2, 3, "unterminated quoted string"},
		{[]string{`/a="x" y`}, 0, 7, "unexpected 'y' after mutation"},
		{[]string{`/a={"x":}`}, 0, 8, "invalid JSON value"},
		{[]string{`/a=[1,2`}, 0, 3, "unterminated JSON value"},
		{[]string{"/a~2=1"}, 0, 2, "invalid escape"},
		{[]string{"rm:/a=1"}, 0, 5, "rm: takes a path only"},
		{[]string{"rm:/a{/b}"}, 0, 5, "rm: takes a path only"},
		{[]string{"rm:"}, 0, 3, "missing path"},
		{[]string{"=1"}, 0, 0, "missing path"},
		{[]string{"time:/t"}, 0, 7, "time: needs '='"},
		{[]string{"time:/t=tomorrow"}, 0, 8, "neither NOW nor an RFC 3339 timestamp"},
		{[]string{"time:/t=2025-01-01"}, 0, 8, "neither NOW nor"},
		{[]string{"base64file:/payload=blob.bin"}, 0, 0, "only supported by the client"},
		{[]string{"textfile:/content=notes.txt"}, 0, 0, "only supported by the client"},
		{[]string{"/a{}"}, 0, 0, "no mutations"},
	} {
		_, err := ParseMutations(tc.in...)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseMutations(%q) = %v, want *SyntaxError", tc.in, err)
			continue
		}
		if se.Expr != tc.expr || se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ParseMutations(%q) error %d:%d %q, want %d:%d containing %q", tc.in, se.Expr, se.Pos, se.Msg, tc.expr, tc.pos, tc.msg)
		}
	}
}

var fixedNow = func() time.Time { return time.Date(2025, 10, 11, 3, 0, 0, 123, time.FixedZone("x", 3600)) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		muts []string
		want string
	}{
		{`null`, []string{"/a/b/c=1"}, `{"a":{"b":{"c":1}}}`},
		{`{}`, []string{"/progress/step=fetch", "/progress/count++", "time:/progress/updated=NOW"},
			`{"progress":{"count":1,"step":"fetch","updated":"2025-10-11T02:00:00.000000123Z"}}`},
		{`{"data":{"hello key":"world","count":0},"meta":{"name":"x"}}`,
			[]string{`/data{/hello key="mars traveler",/count++}`, "/meta/previous=world", "time:/meta/processed=NOW"},
			`{"data":{"count":1,"hello key":"mars traveler"},"meta":{"name":"x","previous":"world","processed":"2025-10-11T02:00:00.000000123Z"}}`},
		{`{"c":1}`, []string{"/c=+4", "/c--", "/c=-0.5"}, `{"c":3.5}`},
		{`{"c":1.5}`, []string{"/c=+1.5"}, `{"c":3}`},
		{`{"c":9223372036854775807}`, []string{"/c++"}, `{"c":9223372036854776000}`},
		{`{"c":9007199254740993}`, []string{"/c=+2"}, `{"c":9007199254740995}`},
		{`{"a":1,"b":{"c":2}}`, []string{"rm:/a", "rm:/b/c", "rm:/missing", "rm:/b/c/d", "rm:/a/x"}, `{"b":{}}`},
		{`{"t":[1,2,3]}`, []string{"/t/1=9", "/t/0++", "rm:/t/2", "rm:/t/7"}, `{"t":[2,9]}`},
		{`{"t":[{"a":1}]}`, []string{"/t/0/b=2"}, `{"t":[{"a":1,"b":2}]}`},
		{`{"s":"x"}`, []string{"/n=0,/n=-3", `/j={"k":[1]}`, "/j/k/0++"}, `{"j":{"k":[2]},"n":-3,"s":"x"}`},
		{`[1,2]`, []string{"rm:/0"}, `[2]`},
		{`{"a":{"b":1}}`, []string{"/a=5", "rm:/a"}, `{}`},
		{`{"x":1}`, []string{"time:/t=2025-11-07T03:00:00+01:00"}, `{"t":"2025-11-07T02:00:00Z","x":1}`},
	} {
		muts, err := ParseMutations(tc.muts...)
		if err != nil {
			t.Fatalf("ParseMutations(%q): %v", tc.muts, err)
		}
		doc := decodeDoc(t, tc.doc)
		before := mustJSON(t, doc)
		got, err := Apply(doc, muts, fixedNow)
		if err != nil {
			t.Errorf("Apply(%s, %q): %v", tc.doc, tc.muts, err)
			continue
		}
		if s := mustJSON(t, got); s != tc.want {
			t.Errorf("Apply(%s, %q)\n got %s\nwant %s", tc.doc, tc.muts, s, tc.want)
		}
		if mustJSON(t, doc) != before {
			t.Errorf("Apply(%s, %q) modified its input", tc.doc, tc.muts)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		muts []string
		path string
		msg  string
	}{
		{`{"s":"x"}`, []string{"/s++"}, "/s", "cannot increment a string"},
		{`{"s":null}`, []string{"/s=+1"}, "/s", "cannot increment a null"},
		{`{"s":{}}`, []string{"/s--"}, "/s", "cannot increment a object"},
		{`{"s":"x"}`, []string{"/s/t=1"}, "/s/t", "/s is a string, not an object or array"},
		{`{"a":{"s":5}}`, []string{"/a/s/t/u=1"}, "/a/s/t/u", "/a/s is a number"},
		{`{"t":[1]}`, []string{"/t/1=2"}, "/t/1", "array index out of range"},
		{`{"t":[1]}`, []string{"/t/-=2"}, "/t/-", "array index out of range"},
		{`{"t":[1]}`, []string{"/t/5/x=2"}, "/t/5/x", "/t/5 array index out of range"},
		{`{"c":1.7976931348623157e308}`, []string{"/c=+1.7976931348623157e308"}, "/c", "overflows"},
		{`"scalar"`, []string{"/a=1"}, "/a", "document root is a string"},
		{`{}`, []string{"/ok=1", "time:/t=NOW"}, "/t", "needs a clock"},
	} {
		muts, err := ParseMutations(tc.muts...)
		if err != nil {
			t.Fatalf("ParseMutations(%q): %v", tc.muts, err)
		}
		doc := decodeDoc(t, tc.doc)
		before := mustJSON(t, doc)
		got, err := Apply(doc, muts, nil)
		var ae *ApplyError
		if !errors.As(err, &ae) {
			t.Errorf("Apply(%s, %q) = %v, want *ApplyError", tc.doc, tc.muts, err)
			continue
		}
		if ae.Path != tc.path || !strings.Contains(ae.Msg, tc.msg) {
			t.Errorf("Apply(%s, %q) error %q %q, want %q containing %q", tc.doc, tc.muts, ae.Path, ae.Msg, tc.path, tc.msg)
		}
		if mustJSON(t, got) != before || mustJSON(t, doc) != before {
			t.Errorf("failed Apply(%s, %q) changed the document", tc.doc, tc.muts)
		}
		if !strings.Contains(ae.Error(), tc.path) {
			t.Errorf("Error() %q does not name the path", ae.Error())
		}
	}
}

// TestApplyAtomic checks that a failure late in a batch leaves no trace of
// the earlier mutations, even in nested containers.
func TestApplyAtomic(t *testing.T) {
	doc := decodeDoc(t, `{"a":{"b":{"n":1}},"list":[{"x":1}],"s":"str"}`)
	before := mustJSON(t, doc)
	muts, err := ParseMutations("/a/b/n++", "/a/b/new=1", "/list/0/x=2", "rm:/a/b", "/s++")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(doc, muts, fixedNow); err == nil {
		t.Fatal("expected an error")
	}
	if mustJSON(t, doc) != before {
		t.Fatalf("document changed: %s", mustJSON(t, doc))
	}
}

// TestApplyNoAliasing checks that results never share mutable state with
// the mutation values or with each other's changed containers.
func TestApplyNoAliasing(t *testing.T) {
	muts, err := ParseMutations(`/j={"k":{"v":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := Apply(nil, muts, nil)
	second, _ := Apply(nil, muts, nil)
	first.(map[string]any)["j"].(map[string]any)["k"].(map[string]any)["v"] = "changed"
	if mustJSON(t, second) != `{"j":{"k":{"v":1}}}` || mustJSON(t, muts[0].Value) != `{"k":{"v":1}}` {
		t.Fatal("results alias each other or the mutation value")
	}
}

func TestApplyClockCalledOnce(t *testing.T) {
	calls := 0
	clock := func() time.Time { calls++; return time.Unix(int64(calls), 0) }
	muts, _ := ParseMutations("time:/a=NOW", "time:/b=NOW", "/c{time:/d=NOW}")
	got, err := Apply(nil, muts, clock)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || mustJSON(t, got) != `{"a":"1970-01-01T00:00:01Z","b":"1970-01-01T00:00:01Z","c":{"d":"1970-01-01T00:00:01Z"}}` {
		t.Fatalf("calls=%d doc=%s", calls, mustJSON(t, got))
	}
}

func TestNestingLimits(t *testing.T) {
	deep := strings.Repeat("/a", maxNesting+1) + "=1"
	if _, err := ParseMutations(deep); err == nil || !strings.Contains(err.Error(), "segments") {
		t.Errorf("deep path: %v", err)
	}
	braces := strings.Repeat("/a{", maxNesting+1) + "/b=1" + strings.Repeat("}", maxNesting+1)
	if _, err := ParseMutations(braces); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep braces: %v", err)
	}
	if _, err := ParseSelector(strings.Repeat("not.", maxNesting+1) + "/a=1"); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep selector: %v", err)
	}
	ok := strings.Repeat("not.", maxNesting-1) + "/a=1"
	if _, err := ParseSelector(ok); err != nil {
		t.Errorf("selector at the limit: %v", err)
	}
}
