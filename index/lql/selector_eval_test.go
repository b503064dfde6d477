package lql

import (
	"encoding/json"
	"strings"
	"testing"
)

const evalDoc = `{
  "status": "open",
  "count": 12,
  "ratio": 0.5,
  "big": 9007199254740993,
  "neg": -3,
  "flag": true,
  "nothing": null,
  "code": "10",
  "name": "Northwind Supplies",
  "ts": "2025-11-07T02:00:00Z",
  "day": "2025-11-07",
  "tags": ["a", "b"],
  "progress": {"count": 10, "percent": 35, "step": "fetch"},
  "devices": [{"status": "online"}, {"status": "offline"}],
  "hello key": "world",
  "a/b": {"c~d": 1},
  "": "empty key"
}`

func decodeDoc(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatch(t *testing.T) {
	doc := decodeDoc(t, evalDoc)
	for _, tc := range []struct {
		sel  string
		want bool
	}{
		{``, true},
		{`/status="open"`, true},
		{`/status=open`, true},
		{`/status="closed"`, false},
		{`/missing="x"`, false},
		{`/missing!="x"`, true},
		{`/status!=open`, false},
		// Numbers compare numerically, int and float, exactly.
		{`/count=12`, true},
		{`/count=12.0`, true},
		{`/count=1.2e1`, true},
		{`/count=13`, false},
		{`/ratio=0.5`, true},
		{`/ratio=5e-1`, true},
		{`/big=9007199254740993`, true},
		{`/big=9007199254740992`, false},
		{`/big=9007199254740992.0`, false},
		{`/big>9007199254740992`, true},
		{`/neg=-3`, true},
		{`/neg<0`, true},
		{`/count>=10`, true},
		{`/count>12`, false},
		{`/count<=12`, true},
		{`/count<12.5`, true},
		{`/progress/count>=10`, true},
		{`range{field=/count,gt=10,lt=13}`, true},
		{`range{field=/count,gt=10,lt=12}`, false},
		// Type mismatches never match.
		{`/status>1`, false},
		{`/count="twelve"`, false},
		{`/flag=1`, false},
		{`/code=10`, false},
		{`/code>=5`, false},
		{`/tags="a"`, false},
		{`/progress=1`, false},
		// v0.9 wire compatibility: string literals that spell a number or a boolean.
		{`/count="12"`, true},
		{`/count="12.0"`, true},
		{`/code="10"`, true},
		{`/flag="true"`, true},
		{`/flag="false"`, false},
		{`/flag=true`, true},
		{`/flag=TRUE`, true},
		{`/nothing=null`, true},
		{`/nothing="null"`, false},
		{`/status=null`, false},
		// Strings compare lexically.
		{`/name>"M"`, true},
		{`/name<"M"`, false},
		{`range{field=/status,gte=o,lt=p}`, true},
		// Timestamps compare as times.
		{`/ts>=2025-11-07T00:00:00Z`, true},
		{`/ts>"2025-11-07T03:00:00+02:00"`, true},
		{`/ts<"2025-11-07T03:00:00+02:00"`, false},
		{`/ts="2025-11-07T03:00:00+01:00"`, true},
		{`/ts=2025-11-07T02:00:00.000Z`, true},
		{`date{field=/ts,after=2025-11-06,before=2025-11-08}`, true},
		{`date{field=/ts,after=2025-11-08}`, false},
		{`date{field=/day,value=2025-11-07}`, true},
		{`/ts>=10`, false},
		{`/status>=2025-01-01`, false},
		// in
		{`in{field=/status,any=open|closed}`, true},
		{`in{field=/status,any=closed|new}`, false},
		{`in{field=/count,any=[1,12]}`, true},
		{`in{field=/count,any="1|12"}`, true},
		{`in{field=/nothing,any=[null]}`, true},
		// exists
		{`exists{/status}`, true},
		{`exists{/nothing}`, false},
		{`exists{/missing}`, false},
		{`not.exists{/missing}`, true},
		{`exists{/tags}`, true},
		{`exists=/progress/step`, true},
		// prefix / contains
		{`prefix{field=/name,value=North}`, true},
		{`prefix{field=/name,value=north}`, false},
		{`iprefix{field=/name,value=north}`, true},
		{`prefix{field=/name,value=north,ignoreCase=true}`, true},
		{`contains{field=/name,value=Supp}`, true},
		{`contains{field=/name,value=supp}`, false},
		{`icontains{field=/name,value=SUPP}`, true},
		{`contains{field=/name,any=xyz|wind}`, true},
		{`contains{field=/count,value=1}`, false},
		{`contains{field=/name}`, true},
		{`contains{field=/nothing}`, true},
		{`contains{field=/missing}`, false},
		{`prefix{field=/name,value=""}`, true},
		{`prefix{field=/count,value=""}`, false},
		// Paths: arrays, escapes, odd keys.
		{`/devices/0/status="online"`, true},
		{`/devices/1/status="online"`, false},
		{`/devices/01/status="online"`, false},
		{`/devices/2/status="online"`, false},
		{`/devices/-/status="online"`, false},
		{`/tags/1="b"`, true},
		{`/hello key=world`, true},
		{`/a~1b/c~0d=1`, true},
		{`/="empty key"`, true},
		{`/status/x="open"`, false},
		// Logic.
		{`/status=open,/count=12`, true},
		{`/status=open,/count=13`, false},
		{`or.eq{field=/status,value=closed},or.eq{field=/count,value=12}`, true},
		{`/status=open,or./count=1,or./count=2`, false},
		{`/status=open,or./count=1,or./count=12`, true},
		{`not{/status=open,/count=13}`, true},
		{`not{/status=open,/count=12}`, false},
		{`or{/x=1,and{/status=open,not./flag=false}}`, true},
	} {
		sel, err := ParseSelector(tc.sel)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tc.sel, err)
			continue
		}
		if got := sel.Match(doc); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.sel, got, tc.want)
		}
		got, err := sel.MatchJSON([]byte(evalDoc))
		if err != nil || got != tc.want {
			t.Errorf("%s: MatchJSON = %v, %v, want %v", tc.sel, got, err, tc.want)
		}
	}
}

// TestMatchGoValues checks documents not decoded with UseNumber and
// values of unexpected Go types.
func TestMatchGoValues(t *testing.T) {
	doc := map[string]any{
		"f": 12.0, "i": 12, "i64": int64(-7), "u": uint64(1 << 63), "odd": struct{}{},
		"bad": json.Number("nope"), "nan": []any{},
	}
	for _, tc := range []struct {
		sel  string
		want bool
	}{
		{`/f=12`, true},
		{`/i=12.0`, true},
		{`/i64<0`, true},
		{`/u>9223372036854775807`, true},
		{`/odd=1`, false},
		{`/bad=1`, false},
		{`/bad>0`, false},
		{`exists{/odd}`, true},
	} {
		sel, err := ParseSelector(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.Match(doc); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.sel, got, tc.want)
		}
	}
	sel, _ := ParseSelector(`/a=1`)
	for _, d := range []any{nil, "str", 1.5, []any{1}, map[string]any{}} {
		if sel.Match(d) {
			t.Errorf("Match(%v) = true", d)
		}
	}
	if !(*Selector)(nil).Match(nil) || !(&Selector{}).Match("x") {
		t.Error("empty selector must match everything")
	}
	if _, err := sel.MatchJSON([]byte(`{"a":1} x`)); err == nil {
		t.Error("MatchJSON accepted trailing data")
	}
	if _, err := sel.MatchJSON([]byte(`{`)); err == nil {
		t.Error("MatchJSON accepted broken JSON")
	}
}

func TestNewSelector(t *testing.T) {
	one := Number("1")
	good := []Node{
		nil,
		And{},
		Or{Children: []Node{Eq{Field: PathOf("a"), Value: Number("1")}, Exists{Field: PathOf("b")}}},
		Range{Field: PathOf("n"), GT: &one},
	}
	for _, n := range good {
		if _, err := NewSelector(n); err != nil {
			t.Errorf("NewSelector(%#v): %v", n, err)
		}
	}
	yes := Bool(true)
	bad := []Node{
		Range{Field: PathOf("n")},
		Range{Field: PathOf("n"), GT: &yes},
		Eq{Field: PathOf("n"), Value: Literal{Kind: KindNumber, Text: "0x10"}},
		Eq{Field: PathOf("n")},
		In{Field: PathOf("n")},
		Not{},
		And{Children: []Node{nil}},
		&Eq{},
	}
	for _, n := range bad {
		if _, err := NewSelector(n); err == nil {
			t.Errorf("NewSelector(%#v) accepted", n)
		}
	}
	sel, _ := NewSelector(Or{})
	if sel.Match(map[string]any{}) {
		t.Error("empty Or must match nothing")
	}
}

func TestLiteralEqualAndRangeHolds(t *testing.T) {
	if !String("10").Equal(json.Number("10.0")) || Number("10").Equal("10") || !Null().Equal(nil) {
		t.Error("Literal.Equal disagrees with the documented rules")
	}
	lo, hi := Number("1"), Number("3")
	r := Range{Field: PathOf("n"), GTE: &lo, LT: &hi}
	if !r.Holds(json.Number("1")) || r.Holds(json.Number("3")) || r.Holds("2") {
		t.Error("Range.Holds disagrees with the documented rules")
	}
	if (Range{}).Holds(1) {
		t.Error("invalid range holds")
	}
}
