package edge_test

import (
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// stateCases are the lease and header errors every lease-bound write
// (update, remove, metadata, mutate) shares, in v0.9's order of checks:
// missing_key → invalid_namespace → invalid_key → missing_lease →
// missing_txn → fencing → X-If-Version.
func stateCases(ep string, l lease, body any) []wireCase {
	p := "/v1/" + ep
	hdr := func(drop string, extra ...string) []string {
		var out []string
		h := l.headers()
		for i := 0; i+1 < len(h); i += 2 {
			if h[i] != drop {
				out = append(out, h[i], h[i+1])
			}
		}
		return append(out, extra...)
	}
	return []wireCase{
		{name: ep + " missing key", path: p, body: body, headers: l.headers(), status: 400, code: api.CodeMissingKey},
		{name: ep + " missing key first", path: p + "?namespace=.txns", body: body, status: 400, code: api.CodeMissingKey},
		{name: ep + " bad namespace", path: p + "?key=k&namespace=.txns", body: body, headers: l.headers(), status: 400, code: api.CodeInvalidNamespace},
		{name: ep + " bad key", path: p + "?key=a//b", body: body, headers: l.headers(), status: 400, code: api.CodeInvalidKey},
		{name: ep + " missing lease", path: p + "?key=k", body: body, headers: hdr(api.HeaderLeaseID), status: 400, code: api.CodeMissingLease},
		{name: ep + " missing txn", path: p + "?key=k", body: body, headers: hdr(api.HeaderTxnID), status: 400, code: api.CodeMissingTxn},
		{name: ep + " missing token", path: p + "?key=k", body: body, headers: hdr(api.HeaderFencingToken), status: 400, code: api.CodeMissingFencingToken},
		{name: ep + " bad token", path: p + "?key=k", body: body, headers: hdr(api.HeaderFencingToken, api.HeaderFencingToken, "x"), status: 400, code: api.CodeInvalidFencingToken},
		{name: ep + " bad version", path: p + "?key=k", body: body, headers: l.headers(api.HeaderIfVersion, "v1"), status: 400, code: api.CodeInvalidVersion},
		{name: ep + " wrong lease", path: p + "?key=k", body: body, headers: hdr(api.HeaderLeaseID, api.HeaderLeaseID, otherTxn), status: 403, code: api.CodeLeaseRequired},
		{name: ep + " stale token", path: p + "?key=k", body: body, headers: hdr(api.HeaderFencingToken, api.HeaderFencingToken, fence(l.FencingToken+1)), status: 403, code: api.CodeFencingMismatch},
		{name: ep + " txn mismatch", path: p + "?key=k", body: body, headers: hdr(api.HeaderTxnID, api.HeaderTxnID, otherTxn), status: 409, code: api.CodeTxnMismatch},
		{name: ep + " version conflict", path: p + "?key=k", body: body, headers: l.headers(api.HeaderIfVersion, "7"), status: 409, code: api.CodeVersionConflict},
		{name: ep + " unleased key", path: p + "?key=free", body: body, headers: l.headers(), status: 403, code: api.CodeLeaseRequired},
	}
}

func TestWireUpdate(t *testing.T) {
	each(t, server.Config{JSONMax: 1000}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		cases := append(stateCases("update", l, `{}`), []wireCase{
			{name: "malformed", path: "/v1/update?key=k", body: `{"a":}`, headers: l.headers(), status: 400, code: api.CodeInvalidBody},
			{name: "empty", path: "/v1/update?key=k", headers: l.headers(), status: 400, code: api.CodeInvalidBody},
			{name: "two values", path: "/v1/update?key=k", body: `1 2`, headers: l.headers(), status: 400, code: api.CodeInvalidBody},
			{name: "bad expected sha", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderExpectedSHA256, "abc"), status: 400, code: api.CodeInvalidExpectedSHA},
			{name: "bad expected bytes", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderExpectedBytes, "-1"), status: 400, code: api.CodeInvalidExpectedLen},
			{name: "sha mismatch", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderExpectedSHA256, strings.Repeat("0", 64)), status: 409, code: api.CodeExpectedSHAMismatch},
			{name: "bytes mismatch", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderExpectedBytes, "3"), status: 409, code: api.CodeExpectedLenMismatch},
			{name: "etag mismatch", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderIfStateETag, "nope"), status: 409, code: api.CodeETagMismatch},
			// v0.9 answers a bad X-Lockd-Meta-Query-Hidden on update with a
			// 500; bad input is a 400 here (invariant 7).
			{name: "bad hidden header", path: "/v1/update?key=k", body: `{}`, headers: l.headers(api.HeaderQueryHidden, "maybe"), status: 400, code: api.CodeInvalidMetadata},
			{name: "over json-max", path: "/v1/update?key=k", body: `"` + strings.Repeat("x", 1000) + `"`, headers: l.headers(), status: 413, code: api.CodeDocumentTooLarge},
			{name: "over json-max, chunked", path: "/v1/update?key=k", body: strings.NewReader(`["` + strings.Repeat("x", 4000) + `"]`), headers: l.headers(), status: 413, code: api.CodeDocumentTooLarge},
		}...)
		checkWire(t, s, cases)
		mustOK(t, l.update(`"`+strings.Repeat("x", 990)+`"`), "document at the limit")
	})
}

func TestWireRemove(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		mustOK(t, l.update(`{"v":1}`), "update")
		cases := append(stateCases("remove", l, nil),
			wireCase{name: "etag mismatch", path: "/v1/remove?key=k", headers: l.headers(api.HeaderIfStateETag, "nope"), status: 409, code: api.CodeETagMismatch})
		checkWire(t, s, cases)
	})
}

func TestWireMetadata(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		cases := append(stateCases("metadata", l, `{"query_hidden":true}`), []wireCase{
			{name: "bad header bool", path: "/v1/metadata?key=k", headers: l.headers(api.HeaderQueryHidden, "maybe"), status: 400, code: api.CodeInvalidMetadata},
			{name: "bad body", path: "/v1/metadata?key=k", body: `{"query_hidden":"x"}`, headers: l.headers(), status: 400, code: api.CodeInvalidMetadata},
			{name: "unknown field", path: "/v1/metadata?key=k", body: `{"other":1}`, headers: l.headers(), status: 400, code: api.CodeInvalidMetadata},
			{name: "no field", path: "/v1/metadata?key=k", body: `{}`, headers: l.headers(), status: 400, code: api.CodeInvalidMetadata},
			{name: "no body", path: "/v1/metadata?key=k", headers: l.headers(), status: 400, code: api.CodeInvalidMetadata},
			{name: "over 4 KiB", path: "/v1/metadata?key=k", body: `{"query_hidden":true}` + strings.Repeat(" ", 5000), headers: l.headers(), status: 400, code: api.CodeInvalidMetadata},
		}...)
		checkWire(t, s, cases)
		mustOK(t, s.Do("POST", "/v1/metadata?key=k", nil, l.headers(api.HeaderQueryHidden, "true")...), "metadata by header")
	})
}

func TestWireMutate(t *testing.T) {
	each(t, server.Config{JSONMax: 1000}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		mustOK(t, l.update(`{"s":"`+strings.Repeat("x", 800)+`"}`), "update")
		body := `{"mutations":["/a=1"]}`
		cases := append(stateCases("mutate", l, body), []wireCase{
			{name: "malformed", path: "/v1/mutate?key=k", body: `{"mutations":`, headers: l.headers(), status: 400, code: api.CodeInvalidBody},
			{name: "no mutations", path: "/v1/mutate?key=k", body: `{"mutations":[]}`, headers: l.headers(), status: 400, code: api.CodeInvalidBody},
			{name: "unparsable", path: "/v1/mutate?key=k", body: `{"mutations":["/broken"]}`, headers: l.headers(), status: 400, code: api.CodeInvalidMutations},
			{name: "inapplicable", path: "/v1/mutate?key=k", body: `{"mutations":["/s++"]}`, headers: l.headers(), status: 400, code: api.CodeInvalidMutations},
			{name: "etag mismatch", path: "/v1/mutate?key=k", body: body, headers: l.headers(api.HeaderIfStateETag, "nope"), status: 409, code: api.CodeETagMismatch},
			{name: "result over json-max", path: "/v1/mutate?key=k", body: `{"mutations":["/t=\"` + strings.Repeat("y", 300) + `\""]}`, headers: l.headers(), status: 413, code: api.CodeDocumentTooLarge},
			{name: "wrong method", method: "GET", path: "/v1/mutate?key=k", headers: l.headers(), status: 405, code: api.CodeMethodNotAllowed},
		}...)
		checkWire(t, s, cases)
	})
}
