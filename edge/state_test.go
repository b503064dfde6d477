package edge_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestCASOnUpdateAndRemove(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "cas", "a")
		mustOK(t, l.update(`{"v":1}`), "update")
		mustOK(t, l.release(false), "release")
		l = acquire(t, s, "cas", "a")
		etag := hex.EncodeToString(sha256Sum(`{"v":1}`))
		wantError(t, l.update(`{"v":2}`, api.HeaderIfVersion, "5"), 409, api.CodeVersionConflict)
		wantError(t, l.update(`{"v":2}`, api.HeaderIfStateETag, "bogus"), 409, api.CodeETagMismatch)
		mustOK(t, l.update(`{"v":2}`, api.HeaderIfVersion, "1", api.HeaderIfStateETag, etag), "update with CAS")
		// lockd v0.9 ignores X-If-Version on remove; we honour it.
		wantError(t, l.s.Do("POST", l.path("remove"), nil, l.headers(api.HeaderIfVersion, "1")...), 409, api.CodeVersionConflict)
		r := l.s.Do("POST", l.path("remove"), nil, l.headers(api.HeaderIfVersion, "2")...)
		mustOK(t, r, "remove")
		var rm api.RemoveResponse
		r.JSON(t, &rm)
		if !rm.Removed || rm.NewVersion != 3 {
			t.Fatalf("remove %+v", rm)
		}
		if g := l.get(); g.Status != 204 {
			t.Fatalf("holder get after staged remove: %d", g.Status)
		}
		if p := publicGet(s, "cas"); string(p.Body) != `{"v":1}` {
			t.Fatalf("staged remove visible publicly: %d %s", p.Status, p.Body)
		}
		mustOK(t, l.release(false), "release")
		if p := publicGet(s, "cas"); p.Status != 204 {
			t.Fatalf("committed remove: %d %s", p.Status, p.Body)
		}
		l = acquire(t, s, "cas", "a")
		r = l.s.Do("POST", l.path("remove"), nil, l.headers()...)
		r.JSON(t, &rm)
		if rm.Removed || rm.NewVersion != 3 {
			t.Fatalf("remove of absent state %+v", rm)
		}
	})
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestMetadataQueryHidden(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "meta", "a")
		r := l.s.Do("POST", l.path("metadata"), `{"query_hidden":true}`, l.headers()...)
		mustOK(t, r, "metadata")
		var m api.MetadataUpdateResponse
		r.JSON(t, &m)
		if m.Version != 1 || !m.Metadata.QueryHidden || m.Key != "meta" {
			t.Fatalf("metadata response %+v", m)
		}
		var d api.DescribeResponse
		s.Do("GET", "/v1/describe?key=meta", nil).JSON(t, &d)
		if d.Metadata.QueryHidden {
			t.Fatal("staged metadata visible before release")
		}
		mustOK(t, l.release(false), "release")
		s.Do("GET", "/v1/describe?key=meta", nil).JSON(t, &d)
		if !d.Metadata.QueryHidden || d.Version != 1 {
			t.Fatalf("describe after commit %+v", d)
		}
		l = acquire(t, s, "meta", "a")
		wantError(t, l.s.Do("POST", l.path("metadata"), `{}`, l.headers()...), 400, api.CodeInvalidMetadata)
		wantError(t, l.s.Do("POST", l.path("metadata"), `{"nope":1}`, l.headers()...), 400, api.CodeInvalidMetadata)
		wantError(t, l.s.Do("POST", l.path("metadata"), nil, l.headers(api.HeaderQueryHidden, "maybe")...), 400, api.CodeInvalidMetadata)
		r = l.update(`{"a":1}`, api.HeaderQueryHidden, "false")
		var up api.UpdateResponse
		r.JSON(t, &up)
		if up.Metadata.QueryHidden {
			t.Fatal("X-Lockd-Meta-Query-Hidden on update ignored")
		}
	})
}

func TestExpectedChecksums(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "sum", "a")
		body := `{ "a": 1 }`
		good := hex.EncodeToString(sha256Sum(body))
		mustOK(t, l.update(body, api.HeaderExpectedSHA256, good, api.HeaderExpectedBytes, fmt.Sprint(len(body))), "matching expectations")
		wantError(t, l.update(body, api.HeaderExpectedSHA256, strings.Repeat("0", 64)), 409, api.CodeExpectedSHAMismatch)
		wantError(t, l.update(body, api.HeaderExpectedBytes, "3"), 409, api.CodeExpectedLenMismatch)
		wantError(t, l.update(body, api.HeaderExpectedSHA256, "xyz"), 400, api.CodeInvalidExpectedSHA)
		wantError(t, l.update(body, api.HeaderExpectedBytes, "-1"), 400, api.CodeInvalidExpectedLen)
		if g := l.get(); string(g.Body) != `{"a":1}` {
			t.Fatalf("a rejected upload replaced the staged state: %s", g.Body)
		}
	})
}

func TestLargeStateStreams(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "big", "a", `"ttl_seconds":600`) // a 6 MB body under -race on a loaded machine outlasts the default TTL
		doc := `{"rows":[` + strings.Repeat(`{"id": 123456, "name": "row"},`, 200000) + `{}]}`
		compact := strings.ReplaceAll(doc, " ", "")
		r := l.update(doc)
		mustOK(t, r, "large update")
		var up api.UpdateResponse
		r.JSON(t, &up)
		if up.Bytes != int64(len(compact)) {
			t.Fatalf("bytes %d, want %d", up.Bytes, len(compact))
		}
		mustOK(t, l.release(false), "release")
		p := publicGet(s, "big")
		if p.Status != 200 || string(p.Body) != compact {
			t.Fatalf("large state read back %d bytes (want %d)", len(p.Body), len(compact))
		}
	})
}

func TestBadInput(t *testing.T) {
	each(t, server.Config{JSONMax: 1024}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "bad", "a")
		cases := []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			code                     string
		}{
			{"malformed acquire", "POST", "/v1/acquire", `{"key":`, nil, 400, api.CodeInvalidBody},
			{"wrong type", "POST", "/v1/acquire", `{"key":"k","owner":"a","ttl_seconds":"long"}`, nil, 400, api.CodeInvalidBody},
			{"unknown field", "POST", "/v1/acquire", `{"key":"k","owner":"a","x":1}`, nil, 400, api.CodeInvalidBody},
			{"trailing value", "POST", "/v1/acquire", `{"key":"k","owner":"a"} {}`, nil, 400, api.CodeInvalidBody},
			{"empty acquire", "POST", "/v1/acquire", ``, nil, 400, api.CodeInvalidBody},
			{"missing owner", "POST", "/v1/acquire", `{"key":"k"}`, nil, 400, api.CodeMissingOwner},
			{"reserved namespace", "POST", "/v1/acquire", `{"key":"k","owner":"a","namespace":".txns"}`, nil, 400, api.CodeInvalidNamespace},
			{"bad namespace", "POST", "/v1/acquire", `{"key":"k","owner":"a","namespace":"a b"}`, nil, 400, api.CodeInvalidNamespace},
			{"bad key", "POST", "/v1/acquire", `{"key":"a//b","owner":"a"}`, nil, 400, api.CodeInvalidKey},
			{"bad txn", "POST", "/v1/acquire", `{"key":"k","owner":"a","txn_id":"nope"}`, nil, 400, api.CodeInvalidTxn},
			{"release no fencing", "POST", "/v1/release", `{"key":"bad"}`, nil, 400, api.CodeMissingFencingToken},
			{"release bad fencing", "POST", "/v1/release", `{"key":"bad"}`, []string{api.HeaderFencingToken, "x"}, 400, api.CodeInvalidFencingToken},
			{"release no key", "POST", "/v1/release", `{"lease_id":"x","txn_id":"y"}`, []string{api.HeaderFencingToken, "1"}, 400, api.CodeMissingKey},
			{"release no lease", "POST", "/v1/release", `{"key":"bad","txn_id":"y"}`, []string{api.HeaderFencingToken, "1"}, 400, api.CodeMissingLease},
			{"release no txn", "POST", "/v1/release", `{"key":"bad","lease_id":"x"}`, []string{api.HeaderFencingToken, "1"}, 400, api.CodeMissingTxn},
			{"keepalive no fencing", "POST", "/v1/keepalive", `{"key":"bad","lease_id":"x"}`, nil, 400, api.CodeMissingFencingToken},
			{"keepalive no txn", "POST", "/v1/keepalive", fmt.Sprintf(`{"key":"bad","lease_id":%q}`, l.LeaseID), []string{api.HeaderFencingToken, "1"}, 400, api.CodeMissingTxn},
			{"update no key", "POST", "/v1/update", `{}`, l.headers(), 400, api.CodeMissingKey},
			{"update no lease", "POST", "/v1/update?key=bad", `{}`, nil, 400, api.CodeMissingLease},
			{"update bad version", "POST", "/v1/update?key=bad", `{}`, l.headers(api.HeaderIfVersion, "v2"), 400, api.CodeInvalidVersion},
			{"update bad json", "POST", "/v1/update?key=bad", `{"a":}`, l.headers(), 400, api.CodeInvalidBody},
			{"update empty", "POST", "/v1/update?key=bad", ``, l.headers(), 400, api.CodeInvalidBody},
			{"update two values", "POST", "/v1/update?key=bad", `1 2`, l.headers(), 400, api.CodeInvalidBody},
			{"update too large", "POST", "/v1/update?key=bad", `"` + strings.Repeat("x", 2000) + `"`, l.headers(), 413, api.CodeDocumentTooLarge},
			{"get no key", "POST", "/v1/get", ``, nil, 400, api.CodeMissingParams},
			{"get no fencing", "POST", "/v1/get?key=bad", ``, []string{api.HeaderLeaseID, l.LeaseID}, 400, api.CodeMissingFencingToken},
			{"get no lease", "POST", "/v1/get?key=bad", ``, []string{api.HeaderFencingToken, "1"}, 400, api.CodeMissingParams},
			{"describe no key", "GET", "/v1/describe", ``, nil, 400, api.CodeMissingKey},
			{"unknown endpoint", "GET", "/v1/nope", ``, nil, 404, api.CodeNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, s.Do(tc.method, tc.path, tc.body, tc.headers...), tc.status, tc.code)
			})
		}
		// Nothing was lost: the lease and its (empty) state are intact.
		mustOK(t, l.update(`{"ok":true}`), "update after bad input")
		mustOK(t, l.release(false), "release after bad input")
		if p := publicGet(s, "bad"); string(p.Body) != `{"ok":true}` {
			t.Fatalf("state after bad input: %s", p.Body)
		}
	})
}

func TestKeepAliveExtends(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "ka", "a", `"ttl_seconds":5`)
		r := s.Do("POST", "/v1/keepalive", fmt.Sprintf(`{"key":"ka","lease_id":%q,"txn_id":%q,"ttl_seconds":600}`, l.LeaseID, l.TxnID),
			api.HeaderFencingToken, fmt.Sprint(l.FencingToken))
		mustOK(t, r, "keepalive")
		var k api.KeepAliveResponse
		r.JSON(t, &k)
		if k.ExpiresAtUnix < l.ExpiresAtUnix+500 {
			t.Fatalf("keepalive expiry %d vs acquire %d", k.ExpiresAtUnix, l.ExpiresAtUnix)
		}
		var d api.DescribeResponse
		s.Do("GET", "/v1/describe?key=ka", nil).JSON(t, &d)
		if d.ExpiresAtUnix != k.ExpiresAtUnix || d.Owner != "a" || d.LeaseID != l.LeaseID {
			t.Fatalf("describe %+v", d)
		}
	})
}
