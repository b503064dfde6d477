package edge_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestWireQuery(t *testing.T) {
	each(t, server.Config{JSONMax: 4096}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{
			{name: "malformed body", path: "/v1/query", body: `{"selector":`, status: 400, code: api.CodeInvalidBody},
			{name: "wrong type", path: "/v1/query", body: `{"limit":"x"}`, status: 400, code: api.CodeInvalidBody},
			// lockd v0.9's JSON endpoints answer an oversized body 400.
			{name: "oversized body", path: "/v1/query", body: `{"selector":null}` + strings.Repeat(" ", 5000), status: 400, code: api.CodeInvalidBody},
			{name: "bad selector", path: "/v1/query", body: `{"selector":{"bogus":{}}}`, status: 400, code: api.CodeInvalidSelector},
			{name: "bad selector param", path: "/v1/query?selector=%7B", status: 400, code: api.CodeInvalidSelector},
			{name: "bad LQL param", path: "/v1/query?" + url.QueryEscape("eq{field=/a") + "=", status: 400, code: api.CodeInvalidSelector},
			{name: "bad fields", path: "/v1/query?fields=%5B1%5D", status: 400, code: api.CodeInvalidFields},
			{name: "bad engine", path: "/v1/query?engine=fast", status: 400, code: api.CodeInvalidEngine},
			{name: "bad return", path: "/v1/query?return=rows", status: 400, code: api.CodeInvalidReturn},
			{name: "bad refresh", path: "/v1/query?refresh=now", status: 400, code: api.CodeInvalidRefresh},
			{name: "bad cursor", path: "/v1/query?cursor=nope", status: 400, code: api.CodeInvalidCursor},
			{name: "reserved namespace", path: "/v1/query?namespace=.txns", status: 400, code: api.CodeInvalidNamespace},
			{name: "bad namespace", path: "/v1/query", body: `{"namespace":"a b"}`, status: 400, code: api.CodeInvalidNamespace},
		})
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/query", status: 501, code: api.CodeQueryDisabled}})
	})
	each(t, server.Config{IndexOff: true}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{{name: "index engine off", path: "/v1/query?engine=index", status: 400, code: api.CodeQueryEngineUnavailable}})
	})
}

func TestWireIndexFlush(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{
			{name: "bad mode", path: "/v1/index/flush?mode=later", status: 400, code: api.CodeInvalidMode},
			{name: "bad mode in body", path: "/v1/index/flush", body: `{"mode":"later"}`, status: 400, code: api.CodeInvalidMode},
			{name: "unknown field", path: "/v1/index/flush", body: `{"nope":1}`, status: 400, code: api.CodeInvalidBody},
			{name: "oversized body", path: "/v1/index/flush", body: strings.Repeat(" ", 9000), status: 400, code: api.CodeInvalidBody},
			{name: "bad namespace", path: "/v1/index/flush?namespace=.txns", status: 400, code: api.CodeInvalidNamespace},
			{name: "wrong method", method: "GET", path: "/v1/index/flush", status: 405, code: api.CodeMethodNotAllowed},
		})
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/index/flush", status: 501, code: api.CodeIndexUnavailable}})
		mustOK(t, s.Do("POST", "/v1/index/flush", nil), "flush with no body")
	})
}

func TestWireNamespace(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		good := `{"query":{"preferred_engine":"scan"}}`
		checkWire(t, s, []wireCase{
			{name: "empty body", path: "/v1/namespace", status: 400, code: api.CodeInvalidBody},
			{name: "malformed", path: "/v1/namespace", body: `{"query":`, status: 400, code: api.CodeInvalidBody},
			{name: "unknown field", path: "/v1/namespace", body: `{"query":{"preferred_engine":"scan"},"nope":1}`, status: 400, code: api.CodeInvalidBody},
			{name: "no query section", path: "/v1/namespace", body: `{}`, status: 400, code: api.CodeInvalidNamespaceRequest},
			{name: "bad engine", path: "/v1/namespace", body: `{"query":{"preferred_engine":"fast"}}`, status: 400, code: api.CodeInvalidNamespaceRequest},
			{name: "bad namespace", method: "GET", path: "/v1/namespace?namespace=.txns", status: 400, code: api.CodeInvalidNamespace},
			{name: "stale If-Match", path: "/v1/namespace", body: good, headers: []string{"If-Match", `"stale"`}, status: 409, code: api.CodeNamespaceConfigConflict},
			{name: "wrong method", method: "PUT", path: "/v1/namespace", body: good, status: 405, code: api.CodeMethodNotAllowed},
		})
		if r := s.Do("PUT", "/v1/namespace", good); r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("405 without Allow: %v", r.Header)
		}
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", method: "GET", path: "/v1/namespace", status: 501, code: api.CodeNamespaceConfigUnavailable}})
		mustOK(t, s.Do("POST", "/v1/namespace", good), "save")
	})
}
