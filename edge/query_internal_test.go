package edge

import (
	"errors"
	"testing"
)

// FuzzQueryParse feeds arbitrary bodies and query strings to the
// /v1/query decoder: it never panics, and it fails only with a 4xx
// carrying a code and a detail.
func FuzzQueryParse(f *testing.F) {
	seeds := [][2]string{
		{`{"namespace":"q","selector":{"eq":{"field":"/a","value":"1"}},"limit":5}`, ""},
		{`{"selector":{"and":[{"range":{"field":"/n","gte":1}},{"exists":"/x"}]},"fields":{"/a":1}}`, "return=documents"},
		{``, "%2Fstatus=open&limit=3&engine=index&refresh=wait_for"},
		{`{"cursor":"k1.YQ"}`, "cursor=k1.Yg&selector=%7B%7D"},
		{`{"selector":`, "fields=%5B%5D"},
		{`null`, "or.eq%7Bfield%3D%2Fa%2Cvalue%3D1%7D="},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	srv := New(Services{}, Config{})
	f.Fuzz(func(t *testing.T, body, rawQuery string) {
		qp, err := srv.parseQuery([]byte(body), rawQuery)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status < 400 || he.status > 499 || he.code == "" || he.detail == "" {
				t.Fatalf("error %v is not a 4xx with code and detail", err)
			}
			return
		}
		if qp.req.Namespace == "" {
			t.Fatal("no namespace resolved")
		}
	})
}

// FuzzNamespaceFields checks the fields decoder alone.
func FuzzNamespaceFields(f *testing.F) {
	for _, s := range []string{`{"/a":1}`, `{"a/b~1c":true}`, `[]`, `{"/~x":1}`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		paths, err := parseFields([]byte(raw))
		if err == nil {
			for _, p := range paths {
				if len(p.Pointer) == 0 || p.Pointer[0] != '/' {
					t.Fatalf("pointer %q", p.Pointer)
				}
			}
		}
	})
}
