package lql

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseJSONSelector(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`null`, ``},
		{`{}`, ``},
		{`{"and":[],"or":[]}`, ``},
		{`{"eq":{"field":"type","value":"alpha"}}`, `eq{field="/type",value="alpha"}`},
		{`{"eq":{"field":"/count","value":"10"}}`, `eq{field="/count",value="10"}`},
		{`{"eq":{"field":"/count","value":10}}`, `eq{field="/count",value=10}`},
		{`{"eq":{"field":"/f","value":true}}`, `eq{field="/f",value=true}`},
		{`{"eq":{"field":"/f","value":null}}`, `eq{field="/f",value=null}`},
		{`{"and":[{"eq":{"field":"/status","value":"open"}},{"range":{"field":"/progress","gte":50}}]}`,
			`eq{field="/status",value="open"},range{field="/progress",gte=50}`},
		{`{"or":[{"eq":{"field":"/a","value":1}},{"not":{"exists":"/b"}}]}`, `or{eq{field="/a",value=1},not{exists{field="/b"}}}`},
		{`{"eq":{"field":"/a","value":1},"exists":"/b"}`, `eq{field="/a",value=1},exists{field="/b"}`},
		{`{"range":{"field":"/ts","gte":"2026-03-05T10:28:21Z","lt":"2027-01-01"}}`, `range{field="/ts",gte="2026-03-05T10:28:21Z",lt="2027-01-01"}`},
		{`{"date":{"field":"/ts","after":"2025-01-01","before":"2025-01-03"}}`, `range{field="/ts",gt="2025-01-01",lt="2025-01-03"}`},
		{`{"in":{"field":"/env","any":["prod","stage"]}}`, `in{field="/env",any=["prod","stage"]}`},
		{`{"in":{"field":"/env","any":"prod|stage"}}`, `in{field="/env",any=["prod","stage"]}`},
		{`{"in":{"field":"/n","any":[1,true,null]}}`, `in{field="/n",any=[1,true,null]}`},
		{`{"contains":{"field":"/msg","any":["timeout","error"]}}`, `contains{field="/msg",any=["timeout","error"]}`},
		{`{"contains":{"field":"/msg","value":"x","ignoreCase":true}}`, `icontains{field="/msg",value="x"}`},
		{`{"contains":{"field":"/msg","value":"x","ignoreCase":"t"}}`, `icontains{field="/msg",value="x"}`},
		{`{"icontains":{"field":"/msg"}}`, `icontains{field="/msg"}`},
		{`{"prefix":{"Field":"/owner","Value":"team-"}}`, `prefix{field="/owner",value="team-"}`},
		{`{"iprefix":{"field":"/owner","value":"Team-"}}`, `iprefix{field="/owner",value="Team-"}`},
	} {
		sel, err := ParseJSONSelector([]byte(tc.in))
		if err != nil {
			t.Errorf("ParseJSONSelector(%s): %v", tc.in, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("ParseJSONSelector(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		// JSON round trip keeps the AST.
		out, err := json.Marshal(sel)
		if err != nil {
			t.Errorf("Marshal(%s): %v", tc.want, err)
			continue
		}
		back, err := ParseJSONSelector(out)
		if err != nil || back.String() != tc.want {
			t.Errorf("round trip %s -> %s -> %v %v", tc.in, out, back, err)
		}
	}
}

func TestParseJSONSelectorErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
		msg string
	}{
		{`[]`, 0, "must be a JSON object"},
		{`{"eq":{"field":"/a","value":1}} {}`, 33, "unexpected data"},
		{`{"eq":{"field":"/a","value":1}`, 30, "unexpected end"},
		{`{"eq":`, 6, "unexpected end"},
		{`{"bogus":1}`, 1, `unknown selector key "bogus"`},
		{`{"eq":{"field":"/a","bogus":1}}`, 20, `unknown key "bogus" in eq`},
		{`{"eq":{"field":"/a","v":1}}`, 20, `unknown key "v" in eq`},
		{`{"eq":{"field":"/a"}}`, 1, "eq needs value="},
		{`{"eq":{"value":1}}`, 1, "eq needs field="},
		{`{"eq":{"field":"","value":1}}`, 15, "non-empty JSON Pointer"},
		{`{"eq":{"field":"/a~","value":1}}`, 15, "invalid escape"},
		{`{"eq":{"field":"/a","value":[1]}}`, 28, "must be a string, number, boolean or null"},
		{`{"eq":{"field":"/a","value":1,"value":2}}`, 30, `duplicate key "value"`},
		{`{"eq":{"field":"/a","value":1},"eq":{"field":"/b","value":2}}`, 31, `duplicate key "eq"`},
		{`{"eq":[]}`, 6, "eq must be an object"},
		{`{"and":{}}`, 7, "expected an array"},
		{`{"and":[{}]}`, 8, "empty selector inside and/or"},
		{`{"and":[1]}`, 8, "expected a selector object"},
		{`{"not":{}}`, 7, "not needs a non-empty selector"},
		{`{"range":{"field":"/a"}}`, 1, "range needs at least one"},
		{`{"range":{"field":"/a","gt":1,"lt":"z"}}`, 1, "range bounds must all be"},
		{`{"date":{"field":"/a","after":"soon"}}`, 30, "date bound must be"},
		{`{"date":{"field":"/a","since":"now"}}`, 22, "since is not supported"},
		{`{"in":{"field":"/a","any":[]}}`, 26, "at least one value"},
		{`{"in":{"field":"/a","any":[[1]]}}`, 27, "any items must be"},
		{`{"contains":{"field":"/a","ignoreCase":"maybe"}}`, 39, "ignoreCase must be a boolean"},
		{`{"exists":1}`, 10, "non-empty JSON Pointer"},
		{`{"eq":{"field":"/a","value":1,}}`, 30, "invalid JSON"},
	} {
		_, err := ParseJSONSelector([]byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseJSONSelector(%s) = %v, want *SyntaxError", tc.in, err)
			continue
		}
		if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ParseJSONSelector(%s) error at %d %q, want %d containing %q", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
		}
	}
}

// TestSelectorInRequest checks Selector as a field of a request struct, the
// way api.QueryRequest carries it.
func TestSelectorInRequest(t *testing.T) {
	type request struct {
		Namespace string   `json:"namespace,omitempty"`
		Selector  Selector `json:"selector"`
		Limit     int      `json:"limit,omitempty"`
	}
	var req request
	body := `{"namespace":"default","selector":{"eq":{"field":"/status","value":"open"}},"limit":5}`
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	if !req.Selector.Match(map[string]any{"status": "open"}) || req.Selector.Match(map[string]any{}) {
		t.Fatal("decoded selector does not match as expected")
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != body {
		t.Fatalf("Marshal = %s", out)
	}
	if err := json.Unmarshal([]byte(`{"selector":{"eq":1}}`), &req); err == nil {
		t.Fatal("bad selector accepted")
	}
	empty, _ := json.Marshal(request{})
	if string(empty) != `{"selector":{}}` {
		t.Fatalf("empty selector marshals as %s", empty)
	}
}

func TestTextAndJSONAgree(t *testing.T) {
	text, err := ParseSelector(`/status=open,or.1.range{field=/progress/percent,gte=50},or.2.exists{/done}`)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(text)
	want := `{"and":[{"eq":{"field":"/status","value":"open"}},{"or":[{"range":{"field":"/progress/percent","gte":50}},{"exists":"/done"}]}]}`
	if string(data) != want {
		t.Fatalf("Marshal = %s", data)
	}
	fromJSON, err := ParseJSONSelector(data)
	if err != nil || fromJSON.String() != text.String() {
		t.Fatalf("JSON form parses to %v, %v", fromJSON, err)
	}
}

func TestParseSelectorValues(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{`namespace=x&limit=5`, ``},
		{`and.eq{field=/status,value=open}`, `eq{field="/status",value="open"}`},
		{url.Values{"/progress/count>": {"10"}}.Encode(), `range{field="/progress/count",gte=10}`},
		{`eq.field=/status&eq.value=open`, `eq{field="/status",value="open"}`},
		{`range.field=/n&range.gte=10&limit=3`, `range{field="/n",gte=10}`},
		{`exists=/meta/etag&exists=/x`, `exists{field="/meta/etag"},exists{field="/x"}`},
		{`or.0.eq{field=/a,value=1}&or.1.eq{field=/a,value=2}`, `or{eq{field="/a",value=1},eq{field="/a",value=2}}`},
		{`eq.field=/s&eq.value=hello%20world`, `eq{field="/s",value="hello world"}`},
	} {
		values, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		sel, err := ParseSelectorValues(values)
		if err != nil {
			t.Errorf("ParseSelectorValues(%s): %v", tc.query, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("ParseSelectorValues(%s)\n got %s\nwant %s", tc.query, got, tc.want)
		}
	}
	_, err := ParseSelectorValues(url.Values{"eq.field": {"/a"}})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Expr != 1 {
		t.Fatalf("missing eq value: %v", err)
	}
}
