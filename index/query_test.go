package index_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/index"
)

// fixture commits a small namespace with the equality corner cases of
// LQL: numbers vs numeric strings, booleans vs "true", timestamps in two
// spellings, long strings sharing a prefix, hidden and removed keys, and
// documents past the index limits.
func fixture(e *env) {
	long := strings.Repeat("x", 80)
	docs := map[string]string{
		"a": `{"status":"open","n":5,"t":"2025-01-01","tags":["x","y"],"o":{"k":true}}`,
		"b": `{"status":"closed","n":5.0,"t":"2025-01-01T00:00:00Z","o":{"k":false}}`,
		"c": `{"status":"open","n":"5","t":"2024-12-31T23:00:00-01:00","s":"` + long + `a"}`,
		"d": `{"status":"open","n":-0,"z":null,"s":"` + long + `b"}`,
		"e": `{"status":"true","n":9007199254740993}`,
		"f": `{"n":1e400}`,
		"g": `[1,2,3]`,
		"h": `"scalar"`,
	}
	for k, v := range docs {
		e.put("ns", k, v, nil)
	}
	var deep strings.Builder
	for i := 0; i < 30; i++ {
		deep.WriteString(`{"d":`)
	}
	deep.WriteString(`1`)
	deep.WriteString(strings.Repeat("}", 30))
	e.put("ns", "deep", deep.String(), nil)
	var wide strings.Builder
	wide.WriteString(`{"status":"open","arr":[`)
	for i := 0; i < 600; i++ {
		if i > 0 {
			wide.WriteString(",")
		}
		fmt.Fprintf(&wide, "%d", i)
	}
	wide.WriteString(`]}`)
	e.put("ns", "wide", wide.String(), nil)
	yes := true
	e.put("ns", "hidden", `{"status":"open","n":5}`, &yes)
	e.put("ns", "gone", `{"status":"open"}`, nil)
	e.put("ns", "gone", "", nil)
}

func TestQueryEnginesAgree(t *testing.T) {
	e := newEnv(t, index.Options{})
	fixture(e)
	e.flush("ns")
	long := strings.Repeat("x", 80)
	cases := []struct {
		sel  string
		want string
	}{
		{`/status=open`, "a,c,d,wide"},
		{`/status="true"`, "e"},
		{`/n=5`, "a,b"},
		{`/n="5"`, "a,b,c"},
		{`/n=0`, "d"},
		{`/n>4`, "a,b,e,f"},
		{`/n>=9007199254740993`, "e,f"},
		{`/n>9007199254740992`, "e,f"},
		{`/t="2025-01-01T00:00:00Z"`, "a,b,c"},
		{`date{field=/t,after=2024-12-31T00:00:00Z}`, "a,b,c"},
		{`/s="` + long + `b"`, "d"},
		{`prefix{field=/s,value="` + long + `"}`, "c,d"},
		{`/s>"` + long + `a"`, "d"},
		{`exists{/z}`, ""},
		{`exists{/o/k}`, "a,b"},
		{`/o/k=false`, "b"},
		{`/o/k="true"`, "a"},
		{`/tags/1=y`, "a"},
		{`/0=1`, "g"},
		{`/arr/599=599`, "wide"},
		{`/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d=1`, "deep"},
		{`in{field=/status,any=closed|true}`, "b"}, // bare true is a bool literal
		{`/status=open,/n=0`, "d"},
		{`or{/n=5,/status=closed}`, "a,b"},
		{`not{/status=open}`, "b,deep,e,f,g,h"},
		{`contains{field=/status,value=pe}`, "a,c,d,wide"},
		{`iprefix{field=/status,value=OP}`, "a,c,d,wide"},
		{``, "a,b,c,d,deep,e,f,g,h,wide"},
	}
	for _, c := range cases {
		sel := mustSel(t, c.sel)
		want := []string{}
		if c.want != "" {
			want = strings.Split(c.want, ",")
		}
		for _, engine := range []index.Engine{index.EngineIndex, index.EngineScan, index.EngineAuto} {
			for _, limit := range []int{1, 3, 100} {
				if got := e.query("ns", sel, engine, limit); !equal(got, want) {
					t.Errorf("%s engine=%s limit=%d: got %v, want %v", c.sel, engine, limit, got, want)
				}
			}
		}
	}
}

func TestQueryDocumentsAndVersions(t *testing.T) {
	e := newEnv(t, index.Options{})
	e.put("ns", "k1", `{"a":1}`, nil)
	e.put("ns", "k1", `{"a":2}`, nil)
	e.flush("ns")
	for _, engine := range []index.Engine{index.EngineIndex, index.EngineScan} {
		var hits []index.Hit
		_, err := e.idx.Query(ctx(t), index.Request{Namespace: "ns", Selector: mustSel(t, "/a=2"), Engine: engine, Docs: true},
			func(h index.Hit) error { hits = append(hits, h); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || string(hits[0].Doc) != `{"a":2}` || hits[0].Version != 2 {
			t.Fatalf("%s: %+v", engine, hits)
		}
	}
}

func TestQueryCursorErrors(t *testing.T) {
	for _, c := range []string{"x", "k1.", "k1.!!", "k2.YQ"} {
		if _, err := index.DecodeCursor(c); err == nil {
			t.Errorf("cursor %q accepted", c)
		}
	}
	if k, err := index.DecodeCursor(index.EncodeCursor("a/b")); err != nil || k != "a/b" {
		t.Fatalf("round trip: %q %v", k, err)
	}
}
