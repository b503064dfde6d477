package edge_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// seed commits ten orders in namespace q: status open for even i, a
// hidden one, and one with staged (unpublished) changes only.
func seed(t *testing.T, s *edgetest.Server) {
	for i := 0; i < 10; i++ {
		status := "closed"
		if i%2 == 0 {
			status = "open"
		}
		put(t, s, "q", fmt.Sprintf("order/%02d", i), fmt.Sprintf(`{"status":%q,"n":%d,"meta":{"owner":"o%d"}}`, status, i, i%3))
	}
	put(t, s, "q", "secret", `{"status":"open","n":100}`, api.HeaderQueryHidden, "true")
	l := acquire(t, s, "staged", "q", `"namespace":"q"`)
	mustOK(t, l.update(`{"status":"open"}`), "staged update") // never released
	flush(t, s, "q")
}

func TestQueryKeysEnginesAndPagination(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		seed(t, s)
		want := "order/00,order/02,order/04,order/06,order/08"
		for _, engine := range []string{"", "index", "scan"} {
			for _, limit := range []int{1, 2, 100} {
				body := map[string]any{"namespace": "q", "selector": map[string]any{"eq": map[string]any{"field": "/status", "value": "open"}}, "limit": 50}
				got := allKeys(t, s, fmt.Sprintf("/v1/query?engine=%s&limit=%d", engine, limit), body)
				if strings.Join(got, ",") != want {
					t.Fatalf("engine=%q limit=%d: %v", engine, limit, got)
				}
			}
		}
		// Range and nested paths, LQL in query parameters.
		qr, r := queryKeys(t, s, "/v1/query?namespace=q&"+url.QueryEscape("/n>")+"=7", nil)
		if strings.Join(qr.Keys, ",") != "order/07,order/08,order/09" {
			t.Fatalf("range: %v", qr.Keys)
		}
		if qr.Metadata["engine"] != "index" || qr.Metadata["index_pending"] != "false" || qr.IndexSeq == 0 {
			t.Fatalf("metadata %v seq %d", qr.Metadata, qr.IndexSeq)
		}
		if r.Header.Get(api.HeaderQueryIndexSeq) == "" || !strings.Contains(r.Header.Get(api.HeaderQueryMetadata), "index_pending") {
			t.Fatalf("headers %v", r.Header)
		}
		sel := url.QueryEscape(`{"eq":{"field":"/meta/owner","value":"o1"}}`)
		qr, _ = queryKeys(t, s, "/v1/query?namespace=q&selector="+sel, `{"selector":{"eq":{"field":"/n","value":"0"}}}`)
		if strings.Join(qr.Keys, ",") != "order/01,order/04,order/07" {
			t.Fatalf("selector param overrides body: %v", qr.Keys)
		}
		// Empty selector: every published, visible key.
		qr, _ = queryKeys(t, s, "/v1/query", `{"namespace":"q","limit":1000}`)
		if len(qr.Keys) != 10 || qr.Cursor != "" {
			t.Fatalf("all: %v %q", qr.Keys, qr.Cursor)
		}
	})
}

func TestQueryDocumentsStreamWithTrailers(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		seed(t, s)
		for _, engine := range []string{"index", "scan"} {
			d := queryDocs(t, s, "/v1/query?return=documents&limit=2&engine="+engine, `{"namespace":"q","selector":{"eq":{"field":"/status","value":"open"}}}`)
			if d.status != 200 || d.err != nil || d.header.Get("Content-Type") != api.ContentTypeNDJSON {
				t.Fatalf("%s: %d %v %v", engine, d.status, d.err, d.header)
			}
			if keysOfRows(d.rows) != "order/00,order/02" || d.rows[0].Version != 1 || d.rows[0].Namespace != "q" {
				t.Fatalf("%s rows: %v", engine, d.raw)
			}
			if !strings.HasPrefix(d.raw[0], `{"ns":"q","key":"order/00","ver":1,"doc":{"status":"open","n":0,`) {
				t.Fatalf("row format: %s", d.raw[0])
			}
			cursor := d.trailer.Get(api.HeaderQueryCursor)
			if cursor == "" || !strings.Contains(d.trailer.Get(api.HeaderQueryMetadata), `"engine":"`+engine+`"`) {
				t.Fatalf("%s trailers: %v", engine, d.trailer)
			}
			if engine == "index" && d.trailer.Get(api.HeaderQueryIndexSeq) == "" {
				t.Fatalf("no index seq trailer: %v", d.trailer)
			}
			d = queryDocs(t, s, "/v1/query?return=docs&cursor="+url.QueryEscape(cursor), `{"namespace":"q","limit":10,"selector":{"eq":{"field":"/status","value":"open"}}}`)
			if keysOfRows(d.rows) != "order/04,order/06,order/08" || d.trailer.Get(api.HeaderQueryCursor) != "" {
				t.Fatalf("%s page 2: %v %v", engine, d.raw, d.trailer)
			}
		}
		d := queryDocs(t, s, "/v1/query?return=documents", `{"namespace":"q","limit":1,"fields":{"/meta/owner":true,"n":1}}`)
		if len(d.raw) != 1 || !strings.Contains(d.raw[0], `"doc":{"meta":{"owner":"o0"},"n":0}`) {
			t.Fatalf("projection: %v", d.raw)
		}
	})
}

func TestQueryRefreshAndNamespaceConfig(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		put(t, s, "c", "a", `{"x":1}`)
		qr, _ := queryKeys(t, s, "/v1/query?refresh=wait_for&engine=index", `{"namespace":"c","selector":{"eq":{"field":"/x","value":"1"}}}`)
		if strings.Join(qr.Keys, ",") != "a" {
			t.Fatalf("refresh: %v", qr.Keys)
		}
		r := s.Do("GET", "/v1/namespace?namespace=c", nil)
		var nc api.NamespaceConfigResponse
		r.JSON(t, &nc)
		if r.Status != 200 || nc.Query.PreferredEngine != "index" || nc.Query.FallbackEngine != "none" || nc.Namespace != "c" {
			t.Fatalf("get: %d %s", r.Status, r.Body)
		}
		r = s.Do("POST", "/v1/namespace?namespace=c", `{"query":{"preferred_engine":"scan"}}`)
		etag := r.Header.Get("ETag")
		if r.Status != 200 || etag == "" {
			t.Fatalf("post: %d %s", r.Status, r.Body)
		}
		qr, _ = queryKeys(t, s, "/v1/query", `{"namespace":"c","selector":{"eq":{"field":"/x","value":"1"}}}`)
		if qr.Metadata["engine"] != "scan" {
			t.Fatalf("preferred scan not used: %v", qr.Metadata)
		}
		wantError(t, s.Do("POST", "/v1/namespace?namespace=c", `{"query":{"fallback_engine":"scan"}}`, "If-Match", `"stale"`), 409, api.CodeNamespaceConfigConflict)
		r = s.Do("POST", "/v1/namespace?namespace=c", `{"query":{"fallback_engine":"scan"}}`, "If-Match", `"`+etag+`"`)
		if r.Status != 200 || r.Header.Get("ETag") == etag || s.Do("GET", "/v1/namespace?namespace=c", nil).Header.Get("ETag") != r.Header.Get("ETag") {
			t.Fatalf("conditional post: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do("POST", "/v1/namespace?namespace=c", `{}`), 400, api.CodeInvalidNamespaceRequest)
		wantError(t, s.Do("POST", "/v1/namespace?namespace=c", `{"query":{"preferred_engine":"magic"}}`), 400, api.CodeInvalidNamespaceRequest)
		wantError(t, s.Do("POST", "/v1/namespace", `{`), 400, api.CodeInvalidBody)
		wantError(t, s.Do("GET", "/v1/namespace?namespace=.x", nil), 400, api.CodeInvalidNamespace)
		wantError(t, s.Do("PUT", "/v1/namespace", nil), 405, api.CodeMethodNotAllowed)
	})
}

func TestIndexFlush(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		put(t, s, "f", "a", `{"x":1}`)
		r := s.Do("POST", "/v1/index/flush", `{"namespace":"f","mode":"wait"}`)
		var fr api.IndexFlushResponse
		r.JSON(t, &fr)
		if r.Status != 200 || !fr.Flushed || fr.Mode != "wait" || fr.Namespace != "f" || fr.IndexSeq != 1 {
			t.Fatalf("wait: %d %s", r.Status, r.Body)
		}
		r = s.Do("POST", "/v1/index/flush?mode=async&namespace=f", nil)
		r.JSON(t, &fr)
		if r.Status != 202 || !fr.Accepted || fr.FlushID == "" || fr.Mode != "async" {
			t.Fatalf("async: %d %s", r.Status, r.Body)
		}
		wantError(t, s.Do("POST", "/v1/index/flush?mode=later", nil), 400, api.CodeInvalidMode)
		wantError(t, s.Do("POST", "/v1/index/flush", `{"mode":`), 400, api.CodeInvalidBody)
		wantError(t, s.Do("POST", "/v1/index/flush", strings.Repeat(" ", 9000)), 400, api.CodeInvalidBody) // v0.9: oversized JSON bodies are invalid_body
		wantError(t, s.Do("GET", "/v1/index/flush", nil), 405, api.CodeMethodNotAllowed)
	})
}

// With the index turned off every query scans; a flush has nothing to
// wait for and says so, and auto queries see every commit at once.
func TestIndexOffFlushAndQuery(t *testing.T) {
	each(t, server.Config{IndexOff: true}, func(t *testing.T, s *edgetest.Server) {
		put(t, s, "off", "a", `{"x":1}`)
		put(t, s, "off", "b", `{"x":2}`)
		r := s.Do("POST", "/v1/index/flush?namespace=off", nil)
		var fr api.IndexFlushResponse
		r.JSON(t, &fr)
		if r.Status != 200 || !fr.Flushed || fr.Pending {
			t.Fatalf("flush: %d %s", r.Status, r.Body)
		}
		qr, _ := queryKeys(t, s, "/v1/query", map[string]any{"namespace": "off", "selector": map[string]any{"eq": map[string]any{"field": "/x", "value": 2}}})
		if strings.Join(qr.Keys, ",") != "b" {
			t.Fatalf("query: %+v", qr)
		}
		wantError(t, s.Do("POST", "/v1/query?engine=index", map[string]any{"namespace": "off"}), 400, api.CodeQueryEngineUnavailable)
	})
}

func TestQueryBadInput(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		cases := []struct {
			path, body string
			status     int
			code, want string
		}{
			{"/v1/query", `{"selector":`, 400, api.CodeInvalidBody, ""},
			{"/v1/query", `{"limit":"x"}`, 400, api.CodeInvalidBody, ""},
			{"/v1/query", `{"selector":{"eq":{"field":"/a"}}}`, 400, api.CodeInvalidSelector, "byte"},
			{"/v1/query", `{"selector":{"bogus":{}}}`, 400, api.CodeInvalidSelector, "byte"},
			{"/v1/query?selector=%7B", ``, 400, api.CodeInvalidSelector, "byte"},
			{"/v1/query?" + url.QueryEscape("eq{field=/a") + "=", ``, 400, api.CodeInvalidSelector, "byte"},
			{"/v1/query?fields=%5B1%5D", ``, 400, api.CodeInvalidFields, ""},
			{"/v1/query", `{"fields":{"/a~2":1}}`, 400, api.CodeInvalidFields, "~"},
			{"/v1/query?engine=fast", ``, 400, api.CodeInvalidEngine, ""},
			{"/v1/query?return=rows", ``, 400, api.CodeInvalidReturn, ""},
			{"/v1/query", `{"return":"rows"}`, 400, api.CodeInvalidReturn, ""},
			{"/v1/query?refresh=now", ``, 400, api.CodeInvalidRefresh, ""},
			{"/v1/query?cursor=nope", ``, 400, api.CodeInvalidCursor, ""},
			{"/v1/query", `{"cursor":"k1.!!"}`, 400, api.CodeInvalidCursor, ""},
			{"/v1/query?namespace=.txns", ``, 400, api.CodeInvalidNamespace, ""},
			{"/v1/query", `{"namespace":"Bad Name"}`, 400, api.CodeInvalidNamespace, ""},
		}
		for _, c := range cases {
			r := s.Do("POST", c.path, c.body)
			wantError(t, r, c.status, c.code)
			if c.want != "" && !strings.Contains(string(r.Body), c.want) {
				t.Fatalf("%s %s: detail %s lacks %q", c.path, c.body, r.Body, c.want)
			}
		}
		// lockd v0.9 serves /v1/query whatever the method.
		mustOK(t, s.Do("GET", "/v1/query", nil), "GET /v1/query")
		// Query params override the body: a bad body return is an error,
		// a non-integer limit parameter is ignored.
		qr, _ := queryKeys(t, s, "/v1/query?limit=abc&namespace=empty", `{"namespace":"other"}`)
		if qr.Namespace != "empty" || len(qr.Keys) != 0 {
			t.Fatalf("override: %+v", qr)
		}
	})
}

func TestQueryJSONResponseShape(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		r := s.Do("POST", "/v1/query?namespace=none", nil)
		var m map[string]json.RawMessage
		r.JSON(t, &m)
		if r.Status != 200 || string(m["keys"]) != "[]" || string(m["namespace"]) != `"none"` {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}
