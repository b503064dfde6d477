package lql

import (
	"errors"
	"strings"
	"testing"
)

// TestParseSelector pins every documented syntax form to its canonical
// rendering (String), which spells out the AST.
func TestParseSelector(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Empty selectors.
		{``, ``},
		{" \n , \n", ``},
		// Shorthand (seed README: lockd client query examples).
		{`/report/status="staged"`, `eq{field="/report/status",value="staged"}`},
		{`/progress/count>=10`, `range{field="/progress/count",gte=10}`},
		{`/report/region="emea"`, `eq{field="/report/region",value="emea"}`},
		{`/workflow/state="done"`, `eq{field="/workflow/state",value="done"}`},
		{`/status="ok"`, `eq{field="/status",value="ok"}`},
		{`/status==ok`, `eq{field="/status",value="ok"}`},
		{`/status=open`, `eq{field="/status",value="open"}`},
		{`/type!=critical`, `not{eq{field="/type",value="critical"}}`},
		{`/n>1`, `range{field="/n",gt=1}`},
		{`/n<-2.5`, `range{field="/n",lt=-2.5}`},
		{`/n<=1e3`, `range{field="/n",lte=1e3}`},
		{`  /progress/count   >=   42  `, `range{field="/progress/count",gte=42}`},
		{`/flag=true`, `eq{field="/flag",value=true}`},
		{`/flag=FALSE`, `eq{field="/flag",value=false}`},
		{`/gone=null`, `eq{field="/gone",value=null}`},
		{`/s="10"`, `eq{field="/s",value="10"}`},
		{`/name=hello world`, `eq{field="/name",value="hello world"}`},
		{`/q="a\"b\\c\n\u00e9"`, `eq{field="/q",value="a\"b\\c\n` + "\u00e9" + `"}`},
		{`/hello key="x"`, `eq{field="/hello key",value="x"}`},
		{`/a~1b/c~0d=1`, `eq{field="/a~1b/c~0d",value=1}`},
		{`"/we=ird"=1`, `eq{field="/we=ird",value=1}`},
		{`/ts>=2025-01-01T00:00:00Z`, `range{field="/ts",gte="2025-01-01T00:00:00Z"}`},
		{`/timestamp<"2026-03-05T11:29:41.265+01:00"`, `range{field="/timestamp",lt="2026-03-05T11:29:41.265+01:00"}`},
		{`/name>"m"`, `range{field="/name",gt="m"}`},
		{`/devices/0/status="online"`, `eq{field="/devices/0/status",value="online"}`},
		// Long forms (seed README: LQL section).
		{`and.eq{field=/status,value=open}`, `eq{field="/status",value="open"}`},
		{`or.1.range{field=/progress/percent,gte=50}`, `range{field="/progress/percent",gte=50}`},
		{`eq{f=/status,v=open}`, `eq{field="/status",value="open"}`},
		{`EQ{Field=/status,VALUE=open}`, `eq{field="/status",value="open"}`},
		{"and.eq{\nfield=\"/hello\"\nvalue=\"hi, world\"},and.eq{field=/status value=\"okili dokili\"}",
			`eq{field="/hello",value="hi, world"},eq{field="/status",value="okili dokili"}`},
		{`eq{field=/status,value='open,closed'}`, `eq{field="/status",value="open,closed"}`},
		{`eq{field=/count,value=42}`, `eq{field="/count",value=42}`},
		{`eq{field=/x,any=a|b}`, `in{field="/x",any=["a","b"]}`},
		{`range{field=/p,gt=1,lte=5}`, `range{field="/p",gt=1,lte=5}`},
		{`range{ field=/timestamp, gte=2026-03-05T10:28:21Z }`, `range{field="/timestamp",gte="2026-03-05T10:28:21Z"}`},
		{`date{field=/ts,after=2025-01-01,before=2025-01-03}`, `range{field="/ts",gt="2025-01-01",lt="2025-01-03"}`},
		{`date{f=/ts,a=2025-01-01,b=2025-01-03}`, `range{field="/ts",gt="2025-01-01",lt="2025-01-03"}`},
		{`date{field=/ts,value=2025-01-01T00:00:00Z}`, `range{field="/ts",gte="2025-01-01T00:00:00Z",lte="2025-01-01T00:00:00Z"}`},
		{`in{field=/env,any=prod|stage}`, `in{field="/env",any=["prod","stage"]}`},
		{`in{f=/env,a=prod|stage}`, `in{field="/env",any=["prod","stage"]}`},
		{`in{field=/env,any="prod|stage"}`, `in{field="/env",any=["prod","stage"]}`},
		{`in{field=/state,any=["queued","running"]}`, `in{field="/state",any=["queued","running"]}`},
		{`in{field=/n,any=1|2|x}`, `in{field="/n",any=[1,2,"x"]}`},
		{`in{field=/n,any=[1, true, null]}`, `in{field="/n",any=[1,true,null]}`},
		{`exists{/metadata/etag}`, `exists{field="/metadata/etag"}`},
		{` exists{/meta/etag} `, `exists{field="/meta/etag"}`},
		{`exists{'/meta,etag'}`, `exists{field="/meta,etag"}`},
		{`exists{field=/a}`, `exists{field="/a"}`},
		{`exists{/hello key}`, `exists{field="/hello key"}`},
		{`exists=/a/b`, `exists{field="/a/b"}`},
		{`prefix{field=/owner,value=team-}`, `prefix{field="/owner",value="team-"}`},
		{`iprefix{field=/owner,value=Team-}`, `iprefix{field="/owner",value="Team-"}`},
		{`prefix{field=/owner,value=x,ignoreCase=true}`, `iprefix{field="/owner",value="x"}`},
		{`contains{field=/msg,value=timeout}`, `contains{field="/msg",value="timeout"}`},
		{`contains{field=/msg,any=timeout|degraded}`, `contains{field="/msg",any=["timeout","degraded"]}`},
		{"contains{ field=/msg,\nany=timeout|error }", `contains{field="/msg",any=["timeout","error"]}`},
		{`contains{f=/msg,v=timeout,ic=t}`, `icontains{field="/msg",value="timeout"}`},
		{`icontains{field=/service,a=AUTH|EDGE}`, `icontains{field="/service",any=["AUTH","EDGE"]}`},
		{`icontains{field=/m,value=x,ic=f}`, `icontains{field="/m",value="x"}`},
		{`contains{field=/msg}`, `contains{field="/msg"}`},
		{`contains{field=/msg,value=""}`, `contains{field="/msg",value=""}`},
		{`contains{field=/n,value=42}`, `contains{field="/n",value="42"}`},
		{`not.eq{field=/state,value=disabled}`, `not{eq{field="/state",value="disabled"}}`},
		{`not./a=1`, `not{eq{field="/a",value=1}}`},
		// Composition.
		{`/a=1,/b=2`, `eq{field="/a",value=1},eq{field="/b",value=2}`},
		{"/a=1\n/b=2\r\n/c=3", `eq{field="/a",value=1},eq{field="/b",value=2},eq{field="/c",value=3}`},
		{`eq{field=/status,value=open},range{field=/progress,gte=10}`, `eq{field="/status",value="open"},range{field="/progress",gte=10}`},
		{`or.eq{field=/region,value=us},or.eq{field=/region,value=eu}`, `or{eq{field="/region",value="us"},eq{field="/region",value="eu"}}`},
		{`and.0.eq{field=/status,value=open},and.0.range{field=/progress,gte=10}`, `eq{field="/status",value="open"},range{field="/progress",gte=10}`},
		{`or.0.eq{field=/s,value=open},or.0.in{field=/env,any=prod|stage},or.1./x=1`,
			`or{and{eq{field="/s",value="open"},in{field="/env",any=["prod","stage"]}},eq{field="/x",value=1}}`},
		{`and.0.eq{field=/status,value=open},and.1.or.0.in{field=/env,any=prod|stage},and.1.or.1.exists{/meta/etag}`,
			`eq{field="/status",value="open"},or{in{field="/env",any=["prod","stage"]},exists{field="/meta/etag"}}`},
		{`or.0.eq{field=/status,value=open},or.1.and.0.range{field=/progress,gte=10},or.1.and.0.exists{/meta/etag}`,
			`or{eq{field="/status",value="open"},and{range{field="/progress",gte=10},exists{field="/meta/etag"}}}`},
		{`eq{field=/status,value=open},or.eq{field=/owner,value="alice"},or.1.eq{field=/owner,value=bob}`,
			`eq{field="/status",value="open"},or{eq{field="/owner",value="alice"},eq{field="/owner",value="bob"}}`},
		{"and.eq{field=/transaction/status,value=pending},\nand.range{field=/transaction/amount/net,gte=12000},\nor.eq{field=/c,value=SE},\nor.1.eq{field=/c,value=NO}",
			`eq{field="/transaction/status",value="pending"},range{field="/transaction/amount/net",gte=12000},or{eq{field="/c",value="SE"},eq{field="/c",value="NO"}}`},
		{`or.not.eq{field=/a,value=1},or./b=2`, `or{not{eq{field="/a",value=1}},eq{field="/b",value=2}}`},
		{`and.or.0./a=1`, `eq{field="/a",value=1}`},
		{`or{/a=1,/b=2},/c=3`, `or{eq{field="/a",value=1},eq{field="/b",value=2}},eq{field="/c",value=3}`},
		{`not{/a=1,/b=2}`, `not{eq{field="/a",value=1},eq{field="/b",value=2}}`},
		{`and{/a=1,or{/b=2,not{/c=3}}}`, `eq{field="/a",value=1},or{eq{field="/b",value=2},not{eq{field="/c",value=3}}}`},
		{`or{or{/a=1,/b=2},/c=3}`, `or{eq{field="/a",value=1},eq{field="/b",value=2},eq{field="/c",value=3}}`},
	} {
		sel, err := ParseSelector(tc.in)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tc.in, err)
			continue
		}
		if got := sel.String(); got != tc.want {
			t.Errorf("ParseSelector(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again.String() != tc.want {
			t.Errorf("round trip of %q: %v %q", tc.want, err, again)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
		msg string
	}{
		{`and.eq{field=/status,value=open`, 6, "unterminated '{'"},
		{`/count>=`, 8, "missing value"},
		{`/status=`, 8, "missing value"},
		{`/status`, 7, "expected a comparison operator"},
		{`status=ok`, 0, `unknown selector operator "status"`},
		{`foo{field=/a}`, 0, `unknown selector operator "foo"`},
		{`eq{field=/a}`, 0, "eq needs value="},
		{`eq{value=1}`, 0, "eq needs field="},
		{`eq{field=/a,value=1,value=2}`, 20, `duplicate argument "value"`},
		{`eq{field=/a,bogus=1}`, 12, `unknown argument "bogus" for eq`},
		{`eq{field=/a value}`, 17, `expected '=' after "value"`},
		{`eq{field=a,value=1}`, 9, "must start with '/'"},
		{`/a~2=1`, 2, "invalid escape"},
		{`eq{field=/a~,value=1}`, 11, "invalid escape"},
		{`/a="open`, 3, "unterminated quoted string"},
		{`/a="x\q"`, 5, `unknown escape sequence \q`},
		{`/a="x" y`, 7, `unexpected 'y' after clause`},
		{`/a=1}`, 4, "unexpected '}'"},
		{`}`, 0, "unexpected '}'"},
		{`and.`, 4, "expected a selector clause"},
		{`and`, 3, `expected '.' or '{' after "and"`},
		{`not`, 3, `expected '.' or '{' after "not"`},
		{`or.2.{/a=1,/b=2}`, 5, "expected a selector clause"},
		{`or.99999999999.x`, 3, "out of range"},
		{`or.1x`, 4, "expected '.' after group index"},
		{`or{}`, 2, "empty '{}' group"},
		{`range{field=/a}`, 0, "range needs at least one of"},
		{`range{field=/a,gt=1,lt="x"}`, 0, "range bounds must all be"},
		{`range{field=/a,gt=true}`, 0, "range bounds must all be"},
		{`/a>true`, 3, "> needs a number, a timestamp or a string, not bool"},
		{`/a<=null`, 4, "not null"},
		{`date{field=/ts,after=yesterday}`, 21, "date bound must be"},
		{`date{field=/ts,after=2025-01-01,gt=2025-01-02}`, 35, "not both"},
		{`date{field=/ts,since=now}`, 15, "since= is not supported"},
		{`in{field=/a}`, 0, "in needs any="},
		{`in{field=/a,any=||}`, 16, "at least one value"},
		{`in{field=/a,any=[1,2}`, 16, "unterminated '['"},
		{`in{field=/a,any=[1 "x"y]}`, 22, `unexpected 'y' in list`},
		{`contains{field=/a,value=x,any=y}`, 30, "not both"},
		{`contains{field=/a,ic=maybe}`, 21, "ignoreCase must be"},
		{`exists{}`, 0, "exists needs field="},
		{`exists{/a,/b}`, 10, "duplicate field"},
		{`eq[field=/a]`, 2, `expected '{' after "eq"`},
		{"/a=1,\n\n/b", 9, "expected a comparison operator"},
	} {
		_, err := ParseSelector(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseSelector(%q) = %v, want *SyntaxError", tc.in, err)
			continue
		}
		if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ParseSelector(%q) error at %d %q, want %d containing %q", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
		}
		if !strings.Contains(se.Error(), "byte") {
			t.Errorf("Error() %q does not name the position", se.Error())
		}
	}
}

func TestFields(t *testing.T) {
	sel, err := ParseSelector(`/a=1,or.eq{field=/b,value=2},or.1.range{field=/a,gt=0},not.exists{/c}`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range sel.Fields() {
		got = append(got, f.Pointer)
	}
	// The OR group of a level comes after its plain clauses.
	if strings.Join(got, " ") != "/a /c /b" {
		t.Fatalf("Fields = %v", got)
	}
	if (*Selector)(nil).Fields() != nil || !(*Selector)(nil).IsEmpty() {
		t.Fatal("nil selector should be empty with no fields")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		segs []string
		err  bool
	}{
		{"", nil, false},
		{"/", []string{""}, false},
		{"/a/b", []string{"a", "b"}, false},
		{"/a~1b~0c", []string{"a/b~c"}, false},
		{"/~01", []string{"~1"}, false},
		{"//x", []string{"", "x"}, false},
		{"a", nil, true},
		{"/a~", nil, true},
		{"/a~2", nil, true},
	} {
		p, err := ParsePath(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParsePath(%q) err = %v", tc.in, err)
			continue
		}
		if err == nil && strings.Join(p.Segments, "|") != strings.Join(tc.segs, "|") || len(p.Segments) != len(tc.segs) {
			t.Errorf("ParsePath(%q) = %q, want %q", tc.in, p.Segments, tc.segs)
		}
		if err == nil && PathOf(p.Segments...).Pointer != tc.in && tc.in != "/~01" {
			t.Errorf("PathOf(%q) = %q", p.Segments, PathOf(p.Segments...).Pointer)
		}
	}
}
