package lql

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzDocs = []string{
	evalDoc,
	`{"a":{"b":[1,"x",null,{"c":true}]},"n":-1.5e3,"s":"2025-01-01T00:00:00Z"}`,
	`[1,2,3]`,
	`"scalar"`,
	`null`,
}

var fuzzSelectorSeeds = []string{
	``, `/status="ok"`, `/progress/count>=10`, `and.eq{field=/status,value=open}`,
	`or.1.range{field=/progress/percent,gte=50}`, `in{field=/env,any=prod|stage}`,
	`in{field=/state,any=["queued","running"]}`, `exists{/metadata/etag}`, `exists=/a`,
	`not.eq{field=/state,value=disabled}`, `/type!=critical`, `date{field=/ts,after=2025-01-01}`,
	`icontains{f=/msg,a=timeout|error}`, `or{/a=1,not{/b=2,/c<3}}`, "and.0.eq{\nfield=\"/h\"\nvalue=\"hi, world\"}",
	`and.1.or.0.in{field=/env,any=prod|stage},and.1.or.1.exists{/meta/etag}`, `/q="a\"\u00e9\ud83d\ude00"`,
	`range{field=/n,gt=-1e400,lt=1e400}`, `/a~1b~0=1`, `prefix{field=/o,value=x,ic=t}`,
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range fuzzSelectorSeeds {
		f.Add(s)
	}
	docs := make([]any, len(fuzzDocs))
	for i, d := range fuzzDocs {
		docs[i] = decodeDoc(f, d)
	}
	f.Fuzz(func(t *testing.T, text string) {
		sel, err := ParseSelector(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(text) {
				t.Fatalf("ParseSelector(%q): bad error %#v", text, err)
			}
			return
		}
		canon := sel.String()
		again, err := ParseSelector(canon)
		if err != nil || again.String() != canon {
			t.Fatalf("ParseSelector(%q): canonical %q does not round-trip: %v", text, canon, err)
		}
		wire, err := json.Marshal(sel)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", canon, err)
		}
		fromJSON, err := ParseJSONSelector(wire)
		if err != nil {
			t.Fatalf("ParseJSONSelector(%s) from %q: %v", wire, text, err)
		}
		if utf8.ValidString(canon) && fromJSON.String() != canon {
			t.Fatalf("JSON round trip of %q: %q", canon, fromJSON.String())
		}
		for _, d := range docs {
			if sel.Match(d) != again.Match(d) {
				t.Fatalf("%q and its canonical form disagree", text)
			}
		}
	})
}

func FuzzParseJSONSelector(f *testing.F) {
	for _, s := range fuzzSelectorSeeds {
		if sel, err := ParseSelector(s); err == nil {
			b, _ := json.Marshal(sel)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"eq":{"field":"type","value":"alpha"}}`))
	f.Add([]byte(`{"and":[{"or":[]}],"not":{"exists":"/x"},"contains":{"field":"/m","any":"a|b","ignoreCase":"t"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sel, err := ParseJSONSelector(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseJSONSelector(%q): error %T %v", data, err, err)
			}
			return
		}
		if _, err := ParseSelector(sel.String()); err != nil {
			t.Fatalf("canonical text %q of %q does not parse: %v", sel.String(), data, err)
		}
		if _, err := json.Marshal(sel); err != nil {
			t.Fatal(err)
		}
		sel.Match(decodeDoc(t, evalDoc))
	})
}

func FuzzMatch(f *testing.F) {
	for i, s := range fuzzSelectorSeeds {
		f.Add(s, []byte(fuzzDocs[i%len(fuzzDocs)]))
	}
	f.Fuzz(func(t *testing.T, text string, doc []byte) {
		sel, err := ParseSelector(text)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil || dec.More() {
			if _, err := sel.MatchJSON(doc); err == nil && !sel.IsEmpty() {
				t.Fatalf("MatchJSON accepted invalid JSON %q", doc)
			}
			return
		}
		got := sel.Match(v)
		viaJSON, err := sel.MatchJSON(doc)
		if err != nil || viaJSON != got {
			t.Fatalf("MatchJSON = %v, %v; Match = %v", viaJSON, err, got)
		}
		var plain any
		if json.Unmarshal(doc, &plain) == nil {
			sel.Match(plain) // float64 numbers: must not panic
		}
		not, err := NewSelector(Not{Child: sel.Root()})
		if err == nil && sel.Root() != nil && not.Match(v) == got {
			t.Fatalf("not{%s} agrees with it on %s", sel, doc)
		}
	})
}

func FuzzParseMutations(f *testing.F) {
	for _, s := range []string{
		`/progress/step=fetch`, `/progress/count++`, `time:/progress/updated=NOW`,
		`/data{/hello key="mars traveler",/count++}`, `meta{/owner="alice",/previous="world"}`,
		`/progress/count=+5`, `/c=-3`, `rm:/a`, `delete:/b/c`, `time:/t=2025-11-07T03:00:00+01:00`,
		`/j={"a":[1,{"b":null}]}`, "/a{\n/b=1\n/c{rm:/d}}", `/t/0=1`, `rm:/t/0`, `/x="\u00e9"`,
	} {
		f.Add(s, []byte(fuzzDocs[1]))
	}
	now := func() time.Time { return time.Unix(1, 2) }
	f.Fuzz(func(t *testing.T, text string, doc []byte) {
		muts, err := ParseMutations(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(text) {
				t.Fatalf("ParseMutations(%q): bad error %#v", text, err)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			v = nil
		}
		before, _ := json.Marshal(v)
		out, err := Apply(v, muts, now)
		after, _ := json.Marshal(v)
		if !bytes.Equal(before, after) {
			t.Fatalf("Apply(%q) modified its input", text)
		}
		if err != nil {
			var ae *ApplyError
			if !errors.As(err, &ae) {
				t.Fatalf("Apply(%q): error %T %v", text, err, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("Apply(%q) produced a document that does not marshal: %v", text, err)
		}
	})
}
