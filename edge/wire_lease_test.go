package edge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

const otherTxn = "c5v9d0sl70b3m3q8ndg0" // a valid xid no lease has

func TestWireAcquire(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		acquire(t, s, "held", "a", `"ttl_seconds":20`)
		l := acquire(t, s, "exists", "a")
		mustOK(t, l.update(`{}`), "update")
		mustOK(t, l.release(false), "release")
		checkWire(t, s, []wireCase{
			{name: "empty body", path: "/v1/acquire", status: 400, code: api.CodeInvalidBody},
			{name: "malformed", path: "/v1/acquire", body: `{"owner":`, status: 400, code: api.CodeInvalidBody},
			{name: "unknown field", path: "/v1/acquire", body: `{"owner":"a","nope":1}`, status: 400, code: api.CodeInvalidBody},
			{name: "trailing value", path: "/v1/acquire", body: `{"owner":"a"} {}`, status: 400, code: api.CodeInvalidBody},
			{name: "reserved namespace", path: "/v1/acquire", body: `{"owner":"a","key":"k","namespace":".txns"}`, status: 400, code: api.CodeInvalidNamespace},
			{name: "bad namespace", path: "/v1/acquire", body: `{"owner":"a","key":"k","namespace":"a b"}`, status: 400, code: api.CodeInvalidNamespace},
			{name: "missing owner", path: "/v1/acquire", body: `{"key":"k"}`, status: 400, code: api.CodeMissingOwner},
			{name: "blank owner", path: "/v1/acquire", body: `{"key":"k","owner":"  "}`, status: 400, code: api.CodeMissingOwner},
			{name: "empty key segment", path: "/v1/acquire", body: `{"key":"a//b","owner":"a"}`, status: 400, code: api.CodeInvalidKey},
			{name: "bad key", path: "/v1/acquire", body: `{"key":"a b","owner":"a"}`, status: 400, code: api.CodeInvalidKey},
			{name: "bad txn", path: "/v1/acquire", body: `{"key":"k","owner":"a","txn_id":"zz"}`, status: 400, code: api.CodeInvalidTxn},
			{name: "bad txn header", path: "/v1/acquire", body: `{"key":"k","owner":"a"}`, headers: []string{api.HeaderTxnID, "zz"}, status: 400, code: api.CodeInvalidTxn},
			{name: "held", path: "/v1/acquire", body: `{"key":"held","owner":"b","block_seconds":-1}`, status: 409, code: api.CodeWaiting},
			{name: "if_not_exists", path: "/v1/acquire", body: `{"key":"exists","owner":"b","if_not_exists":true}`, status: 409, code: api.CodeAlreadyExists},
		})
		r := s.Do("POST", "/v1/acquire", `{"key":"held","owner":"b","block_seconds":-1}`)
		var e api.ErrorResponse
		r.JSON(t, &e)
		if e.RetryAfterSeconds < 1 || r.Header.Get("Retry-After") == "" || e.CurrentVersion != 0 {
			t.Fatalf("waiting answer %s %v", r.Body, r.Header)
		}
		s.Drain()
		checkWire(t, s, []wireCase{
			{name: "draining", path: "/v1/acquire", body: `{"key":"new","owner":"a"}`, status: 503, code: api.CodeShutdownDraining},
		})
	})
}

func TestWireKeepAlive(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		st := acquire(t, s, "q/jobs/state/m1", "a") // a queue message's workflow state key
		ok := func(extra ...string) []string {
			return append([]string{api.HeaderFencingToken, fence(l.FencingToken)}, extra...)
		}
		body := func(f string, a ...any) string { return fmt.Sprintf(f, a...) }
		good := body(`{"key":"k","lease_id":%q,"txn_id":%q}`, l.LeaseID, l.TxnID)
		checkWire(t, s, []wireCase{
			{name: "no fencing token", path: "/v1/keepalive", body: good, status: 400, code: api.CodeMissingFencingToken},
			{name: "bad fencing token", path: "/v1/keepalive", body: good, headers: []string{api.HeaderFencingToken, "x"}, status: 400, code: api.CodeInvalidFencingToken},
			{name: "empty body", path: "/v1/keepalive", headers: ok(), status: 400, code: api.CodeInvalidBody},
			{name: "unknown field", path: "/v1/keepalive", body: `{"key":"k","nope":1}`, headers: ok(), status: 400, code: api.CodeInvalidBody},
			{name: "bad namespace", path: "/v1/keepalive", body: body(`{"key":"k","namespace":"A B","lease_id":%q}`, l.LeaseID), headers: ok(), status: 400, code: api.CodeInvalidNamespace},
			{name: "missing key", path: "/v1/keepalive", body: body(`{"lease_id":%q}`, l.LeaseID), headers: ok(), status: 400, code: api.CodeMissingKey},
			{name: "bad key", path: "/v1/keepalive", body: body(`{"key":"a//b","lease_id":%q}`, l.LeaseID), headers: ok(), status: 400, code: api.CodeInvalidKey},
			{name: "missing lease", path: "/v1/keepalive", body: `{"key":"k"}`, headers: ok(), status: 400, code: api.CodeMissingLease},
			{name: "queue state key", path: "/v1/keepalive", body: body(`{"key":%q,"lease_id":%q,"txn_id":%q}`, st.Key, st.LeaseID, st.TxnID),
				headers: []string{api.HeaderFencingToken, fence(st.FencingToken)}, status: 403, code: api.CodeQueueStateKeepaliveUnsupported},
			{name: "wrong lease", path: "/v1/keepalive", body: body(`{"key":"k","lease_id":%q,"txn_id":%q}`, otherTxn, l.TxnID), headers: ok(), status: 403, code: api.CodeLeaseRequired},
			{name: "stale fencing", path: "/v1/keepalive", body: good, headers: []string{api.HeaderFencingToken, fence(l.FencingToken + 1)}, status: 403, code: api.CodeFencingMismatch},
			{name: "missing txn", path: "/v1/keepalive", body: body(`{"key":"k","lease_id":%q}`, l.LeaseID), headers: ok(), status: 400, code: api.CodeMissingTxn},
			{name: "txn mismatch", path: "/v1/keepalive", body: good, headers: ok(api.HeaderTxnID, otherTxn), status: 409, code: api.CodeTxnMismatch},
			{name: "unknown key", path: "/v1/keepalive", body: body(`{"key":"nobody","lease_id":%q,"txn_id":%q}`, l.LeaseID, l.TxnID), headers: ok(), status: 403, code: api.CodeLeaseRequired},
		})
		mustOK(t, s.Do("POST", "/v1/keepalive", good, ok()...), "keepalive")
	})
}

func TestWireRelease(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		ok := []string{api.HeaderFencingToken, fence(l.FencingToken)}
		good := fmt.Sprintf(`{"key":"k","lease_id":%q,"txn_id":%q}`, l.LeaseID, l.TxnID)
		checkWire(t, s, []wireCase{
			{name: "no fencing token", path: "/v1/release", body: good, status: 400, code: api.CodeMissingFencingToken},
			{name: "bad fencing token", path: "/v1/release", body: good, headers: []string{api.HeaderFencingToken, "-"}, status: 400, code: api.CodeInvalidFencingToken},
			{name: "empty body", path: "/v1/release", headers: ok, status: 400, code: api.CodeInvalidBody},
			{name: "unknown field", path: "/v1/release", body: `{"key":"k","nope":true}`, headers: ok, status: 400, code: api.CodeInvalidBody},
			{name: "bad namespace", path: "/v1/release", body: `{"key":"k","namespace":".txns"}`, headers: ok, status: 400, code: api.CodeInvalidNamespace},
			{name: "bad key", path: "/v1/release", body: `{"key":"/a//"}`, headers: ok, status: 400, code: api.CodeInvalidKey},
			{name: "missing key", path: "/v1/release", body: `{"lease_id":"x"}`, headers: ok, status: 400, code: api.CodeMissingKey},
			{name: "missing lease", path: "/v1/release", body: `{"key":"k"}`, headers: ok, status: 400, code: api.CodeMissingLease},
			{name: "missing txn", path: "/v1/release", body: fmt.Sprintf(`{"key":"k","lease_id":%q}`, l.LeaseID), headers: ok, status: 400, code: api.CodeMissingTxn},
			{name: "txn mismatch", path: "/v1/release", body: fmt.Sprintf(`{"key":"k","lease_id":%q,"txn_id":%q}`, l.LeaseID, otherTxn), headers: ok, status: 409, code: api.CodeTxnMismatch},
		})
		// Idempotent release: a foreign lease id or a stale token answers
		// 200 and leaves the holder alone.
		foreign := fmt.Sprintf(`{"key":"k","lease_id":%q,"txn_id":%q}`, otherTxn, l.TxnID)
		mustOK(t, s.Do("POST", "/v1/release", foreign, ok...), "foreign lease")
		mustOK(t, s.Do("POST", "/v1/release", good, api.HeaderFencingToken, fence(l.FencingToken+5)), "stale token")
		mustOK(t, s.Do("POST", "/v1/release", `{"key":"never","lease_id":"x","txn_id":"y"}`, ok...), "no lease at all")
		mustOK(t, l.update(`{"still":"held"}`), "holder after foreign releases")
		mustOK(t, s.Do("POST", "/v1/release", good, ok...), "release")
	})
}

func TestWireDescribe(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{
			{name: "missing key", method: "GET", path: "/v1/describe", status: 400, code: api.CodeMissingKey},
			{name: "missing key before bad namespace", method: "GET", path: "/v1/describe?namespace=A%20B", status: 400, code: api.CodeMissingKey},
			{name: "bad namespace", method: "GET", path: "/v1/describe?key=k&namespace=A%20B", status: 400, code: api.CodeInvalidNamespace},
			{name: "bad key", method: "GET", path: "/v1/describe?key=a//b", status: 400, code: api.CodeInvalidKey},
		})
		var d api.DescribeResponse
		r := s.Do("POST", "/v1/describe?key=unknown", nil) // any method; unknown keys are 200
		mustOK(t, r, "describe unknown")
		r.JSON(t, &d)
		if d.Version != 0 || d.LeaseID != "" || d.Key != "unknown" {
			t.Fatalf("unknown key %+v", d)
		}
	})
}

func TestWireGet(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "k", "a")
		lh := func(token int64) []string {
			return []string{api.HeaderLeaseID, l.LeaseID, api.HeaderFencingToken, fence(token)}
		}
		checkWire(t, s, []wireCase{
			{name: "missing key", path: "/v1/get?public=1", status: 400, code: api.CodeMissingParams},
			{name: "missing key with lease", path: "/v1/get", headers: lh(l.FencingToken), status: 400, code: api.CodeMissingParams},
			{name: "no token", path: "/v1/get?key=k", headers: []string{api.HeaderLeaseID, l.LeaseID}, status: 400, code: api.CodeMissingFencingToken},
			{name: "no token, no lease", path: "/v1/get?key=k", status: 400, code: api.CodeMissingFencingToken},
			{name: "bad token", path: "/v1/get?key=k", headers: []string{api.HeaderLeaseID, l.LeaseID, api.HeaderFencingToken, "1.5"}, status: 400, code: api.CodeInvalidFencingToken},
			{name: "no lease id", path: "/v1/get?key=k", headers: []string{api.HeaderFencingToken, "1"}, status: 400, code: api.CodeMissingParams},
			{name: "bad namespace", path: "/v1/get?key=k&namespace=.txns", headers: lh(l.FencingToken), status: 400, code: api.CodeInvalidNamespace},
			{name: "bad key", path: "/v1/get?key=a%20b&public=1", status: 400, code: api.CodeInvalidKey},
			{name: "wrong lease", path: "/v1/get?key=k", headers: []string{api.HeaderLeaseID, otherTxn, api.HeaderFencingToken, fence(l.FencingToken)}, status: 403, code: api.CodeLeaseRequired},
			{name: "stale token", path: "/v1/get?key=k", headers: lh(l.FencingToken + 1), status: 403, code: api.CodeFencingMismatch},
			// public is ignored when a lease id is sent.
			{name: "public with a lease id", path: "/v1/get?key=k&public=1", headers: []string{api.HeaderLeaseID, otherTxn, api.HeaderFencingToken, "1"}, status: 403, code: api.CodeLeaseRequired},
		})
		if r := s.Do("POST", "/v1/get?key=k", nil, lh(l.FencingToken)...); r.Status != 204 {
			t.Fatalf("no state: %d %s", r.Status, r.Body)
		}
		if r := publicGet(s, "k"); r.Status != 204 {
			t.Fatalf("no public state: %d %s", r.Status, r.Body)
		}
	})
}

// /v1/cluster/abandon (node to node) takes back the answer of a forwarded
// blocking request by its forward id: the id is required, the body is
// strict, an id with nothing to take back is not an error, and under mTLS
// only a server identity may ask (the nodes' own identity).
func TestClusterAbandonInput(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		wantError(t, s.Do("POST", api.PathClusterAbandon, `{}`), 400, api.CodeMissingFields)
		wantError(t, s.Do("POST", api.PathClusterAbandon, `{"forward_id":"x","more":1}`), 400, api.CodeInvalidBody)
		wantError(t, s.Do("POST", api.PathClusterAbandon, `not json`), 400, api.CodeInvalidBody)
		mustOK(t, s.Do("POST", api.PathClusterAbandon, `{"forward_id":"nothing-to-take-back"}`), "unknown forward id")
	})
	m := startMTLS(t)
	c, _ := m.client("default")
	if r := m.mustDo(c, "POST", api.PathClusterAbandon, map[string]any{"forward_id": "x"}); r.status != 403 {
		t.Fatalf("a client identity may take back answers: %d %s", r.status, r.body)
	}
	tc, _ := m.clientFor(tlsutil.RoleTC, time.Hour)
	if r := m.mustDo(tc, "POST", api.PathClusterAbandon, map[string]any{"forward_id": "x"}); r.status != 403 {
		t.Fatalf("a TC identity may take back answers: %d %s", r.status, r.body)
	}
}
