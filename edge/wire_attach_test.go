package edge_test

import (
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// attachLeaseCases are the header and lease errors of a lease-bound
// attachment call.
func attachLeaseCases(method, path string, l lease, body any) []wireCase {
	drop := func(name string, extra ...string) []string {
		var out []string
		h := l.headers()
		for i := 0; i+1 < len(h); i += 2 {
			if h[i] != name {
				out = append(out, h[i], h[i+1])
			}
		}
		return append(out, extra...)
	}
	n := method + " " + path
	return []wireCase{
		{name: n + " missing lease", method: method, path: path, body: body, headers: drop(api.HeaderLeaseID), status: 400, code: api.CodeMissingLease},
		{name: n + " missing txn", method: method, path: path, body: body, headers: drop(api.HeaderTxnID), status: 400, code: api.CodeMissingTxn},
		{name: n + " missing token", method: method, path: path, body: body, headers: drop(api.HeaderFencingToken), status: 400, code: api.CodeMissingFencingToken},
		{name: n + " bad token", method: method, path: path, body: body, headers: drop(api.HeaderFencingToken, api.HeaderFencingToken, "x"), status: 400, code: api.CodeInvalidFencingToken},
		{name: n + " wrong lease", method: method, path: path, body: body, headers: drop(api.HeaderLeaseID, api.HeaderLeaseID, otherTxn), status: 403, code: api.CodeLeaseRequired},
		{name: n + " stale token", method: method, path: path, body: body, headers: drop(api.HeaderFencingToken, api.HeaderFencingToken, fence(l.FencingToken+1)), status: 403, code: api.CodeFencingMismatch},
		{name: n + " txn mismatch", method: method, path: path, body: body, headers: drop(api.HeaderTxnID, api.HeaderTxnID, otherTxn), status: 409, code: api.CodeTxnMismatch},
	}
}

func TestWireAttachments(t *testing.T) {
	each(t, server.Config{AttachmentMax: 64}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		mustOK(t, l.attach("kept", "data"), "attach")
		up := "/v1/attachments?key=k&name=a.txt"
		cases := []wireCase{
			{name: "upload missing key", path: "/v1/attachments?name=a", body: "x", headers: l.headers(), status: 400, code: api.CodeMissingKey},
			{name: "upload bad namespace", path: up + "&namespace=.txns", body: "x", headers: l.headers(), status: 400, code: api.CodeInvalidNamespace},
			{name: "upload bad key", path: "/v1/attachments?key=a//b&name=a", body: "x", headers: l.headers(), status: 400, code: api.CodeInvalidKey},
			{name: "upload missing name", path: "/v1/attachments?key=k", body: "x", headers: l.headers(), status: 400, code: api.CodeMissingAttachment},
			{name: "upload bad name", path: "/v1/attachments?key=k&name=a%2Fb", body: "x", headers: l.headers(), status: 400, code: api.CodeInvalidAttachmentName},
			{name: "upload bad max_bytes", path: up + "&max_bytes=x", body: "x", headers: l.headers(), status: 400, code: api.CodeInvalidMaxBytes},
			{name: "upload negative max_bytes", path: up + "&max_bytes=-1", body: "x", headers: l.headers(), status: 400, code: api.CodeInvalidMaxBytes},
			{name: "upload over max_bytes", path: up + "&max_bytes=2", body: "xyz", headers: l.headers(), status: 413, code: api.CodeAttachmentTooLarge},
			{name: "upload over the server limit", path: up, body: strings.Repeat("x", 65), headers: l.headers(), status: 413, code: api.CodeAttachmentTooLarge},
			{name: "upload over the limit, chunked", path: up, body: strings.NewReader(strings.Repeat("x", 200)), headers: l.headers(), status: 413, code: api.CodeAttachmentTooLarge},
			{name: "upload bad expected sha", path: up, body: "x", headers: l.headers(api.HeaderExpectedSHA256, "zz"), status: 400, code: api.CodeInvalidExpectedSHA},
			{name: "upload sha mismatch", path: up, body: "x", headers: l.headers(api.HeaderExpectedSHA256, strings.Repeat("0", 64)), status: 409, code: api.CodeExpectedSHAMismatch},
			{name: "upload bytes mismatch", path: up, body: "x", headers: l.headers(api.HeaderExpectedBytes, "2"), status: 409, code: api.CodeExpectedLenMismatch},
			{name: "list missing key", method: "GET", path: "/v1/attachments", headers: l.headers(), status: 400, code: api.CodeMissingKey},
			{name: "delete-all missing key", method: "DELETE", path: "/v1/attachments", headers: l.headers(), status: 400, code: api.CodeMissingKey},
			{name: "get missing key", method: "GET", path: "/v1/attachment?name=kept", headers: l.headers(), status: 400, code: api.CodeMissingKey},
			{name: "get missing name", method: "GET", path: "/v1/attachment?key=k", headers: l.headers(), status: 400, code: api.CodeMissingAttachment},
			{name: "get unknown", method: "GET", path: "/v1/attachment?key=k&name=nope", headers: l.headers(), status: 404, code: api.CodeAttachmentNotFound},
			{name: "get unknown id", method: "GET", path: "/v1/attachment?key=k&id=nope", headers: l.headers(), status: 404, code: api.CodeAttachmentNotFound},
			{name: "public get unknown", method: "GET", path: "/v1/attachment?key=k&name=kept&public=1", status: 404, code: api.CodeAttachmentNotFound}, // staged only
			{name: "delete missing name", method: "DELETE", path: "/v1/attachment?key=k", headers: l.headers(), status: 400, code: api.CodeMissingAttachment},
			{name: "attachments wrong method", method: "PUT", path: up, headers: l.headers(), status: 405, code: api.CodeMethodNotAllowed},
			{name: "attachment wrong method", method: "POST", path: "/v1/attachment?key=k&name=kept", headers: l.headers(), status: 405, code: api.CodeMethodNotAllowed},
		}
		cases = append(cases, attachLeaseCases("POST", up, l, "x")...)
		cases = append(cases, attachLeaseCases("GET", "/v1/attachments?key=k", l, nil)...)
		cases = append(cases, attachLeaseCases("GET", "/v1/attachment?key=k&name=kept", l, nil)...)
		cases = append(cases, attachLeaseCases("DELETE", "/v1/attachment?key=k&name=kept", l, nil)...)
		cases = append(cases, attachLeaseCases("DELETE", "/v1/attachments?key=k", l, nil)...)
		checkWire(t, s, cases)
		mustOK(t, l.attach("zero", "x"), "attach")
		mustOK(t, s.Do("POST", up+"&max_bytes=0", "x", l.headers()...), "max_bytes=0 is no limit of its own")
		if names := l.attachmentList(); len(names) != 3 {
			t.Fatalf("bad input changed the attachments: %+v", names)
		}
	})
}
