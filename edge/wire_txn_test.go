package edge_test

import (
	"fmt"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestWireTxn(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		a := acquire(t, s, "a", "w")
		unknown := otherTxn
		var cases []wireCase
		for _, ep := range []string{"decide", "commit", "rollback"} {
			p := "/v1/txn/" + ep
			part := func(ns, key, hash string) string {
				return fmt.Sprintf(`{"txn_id":%q,"state":"commit","participants":[{"namespace":%q,"key":%q,"backend_hash":%q}]}`, a.TxnID, ns, key, hash)
			}
			cases = append(cases, []wireCase{
				{name: ep + " malformed", path: p, body: `{"txn_id":`, status: 400, code: api.CodeInvalidBody},
				{name: ep + " missing txn", path: p, body: `{"state":"commit"}`, status: 400, code: api.CodeMissingTxnID},
				{name: ep + " bad txn", path: p, body: `{"txn_id":"zz","state":"commit"}`, status: 400, code: api.CodeInvalidTxnID},
				{name: ep + " participant without namespace", path: p, body: part("", "a", ""), status: 400, code: api.CodeInvalidNamespace},
				{name: ep + " participant bad namespace", path: p, body: part("a b", "a", ""), status: 400, code: api.CodeInvalidNamespace},
				{name: ep + " participant without key", path: p, body: part("default", "", ""), status: 400, code: api.CodeInvalidKey},
				{name: ep + " participant bad key", path: p, body: part("default", "a//b", ""), status: 400, code: api.CodeInvalidKey},
				{name: ep + " blank backend hash", path: p, body: part("default", "a", "  "), status: 400, code: api.CodeInvalidBackendHash},
			}...)
		}
		cases = append(cases, []wireCase{
			{name: "decide bad state", path: "/v1/txn/decide", body: fmt.Sprintf(`{"txn_id":%q,"state":"maybe"}`, a.TxnID), status: 400, code: api.CodeInvalidState},
			{name: "decide state by query", path: "/v1/txn/decide?state=maybe&txn_id=" + a.TxnID, status: 400, code: api.CodeInvalidState},
			{name: "commit unknown", path: "/v1/txn/commit", body: fmt.Sprintf(`{"txn_id":%q}`, unknown), status: 404, code: api.CodeTxnNotFound},
			{name: "rollback unknown", path: "/v1/txn/rollback?txn_id=" + unknown, status: 404, code: api.CodeTxnNotFound},
			{name: "replay missing txn", path: "/v1/txn/replay", status: 400, code: api.CodeMissingTxnID},
			{name: "replay bad txn", path: "/v1/txn/replay", body: `{"txn_id":"zz"}`, status: 400, code: api.CodeInvalidTxnID},
			{name: "replay unknown", path: "/v1/txn/replay", body: fmt.Sprintf(`{"txn_id":%q}`, unknown), status: 404, code: api.CodeTxnNotFound},
		}...)
		checkWire(t, s, cases)
		// Unknown fields are allowed on the TC endpoints (lenient, as v0.9).
		r := s.Do("POST", "/v1/txn/decide", fmt.Sprintf(`{"txn_id":%q,"state":"rollback","extra":1}`, a.TxnID))
		mustOK(t, r, "decide with an unknown field")
		// A decided transaction takes no other decision. (lockd v0.9's RM
		// apply answers 200 with the recorded state here; we refuse the
		// contradiction.)
		checkWire(t, s, []wireCase{{name: "commit after rollback", path: "/v1/txn/commit", body: fmt.Sprintf(`{"txn_id":%q}`, a.TxnID), status: 409, code: api.CodeTxnMismatch}})
	})
}

func TestWireTC(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{
			{name: "lease acquire without candidate", path: "/v1/tc/lease/acquire", body: `{}`, status: 400, code: api.CodeMissingCandidateID},
			{name: "lease renew without leader", path: "/v1/tc/lease/renew", body: `{}`, status: 400, code: api.CodeMissingLeaderID},
			{name: "lease release without leader", path: "/v1/tc/lease/release", body: `{}`, status: 400, code: api.CodeMissingLeaderID},
			{name: "rm register without hash", path: "/v1/tc/rm/register", body: `{"endpoint":"http://127.0.0.9:1"}`, status: 400, code: api.CodeMissingBackendHash},
			{name: "rm register without endpoint", path: "/v1/tc/rm/register", body: `{"backend_hash":"h"}`, status: 400, code: api.CodeMissingEndpoint},
			{name: "rm unregister without hash", path: "/v1/tc/rm/unregister", body: `{}`, status: 400, code: api.CodeMissingBackendHash},
			{name: "rm register bad endpoint", path: "/v1/tc/rm/register", body: `{"backend_hash":"h","endpoint":"nope"}`, status: 400, code: api.CodeInvalidEndpoint},
			{name: "announce without endpoint", path: "/v1/tc/cluster/announce", body: `{}`, status: 400, code: api.CodeMissingSelfEndpoint},
			{name: "announce bad endpoint", path: "/v1/tc/cluster/announce", body: `{"self_endpoint":"::"}`, status: 400, code: api.CodeInvalidSelfEndpoint},
			{name: "leave without endpoint", path: "/v1/tc/cluster/leave", body: `{}`, status: 400, code: api.CodeMissingSelfEndpoint},
			{name: "malformed", path: "/v1/tc/lease/acquire", body: `{`, status: 400, code: api.CodeInvalidBody},
		})
	})
}
