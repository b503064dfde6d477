package edge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestMultiKeyTransactionOverHTTP(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		a := acquire(t, s, "acct/a", "w")
		b := acquire(t, s, "acct/b", "w", fmt.Sprintf(`"txn_id":%q`, a.TxnID))
		if b.TxnID != a.TxnID {
			t.Fatalf("join: %s vs %s", b.TxnID, a.TxnID)
		}
		mustOK(t, a.update(`{"balance":90}`), "update a")
		mustOK(t, b.update(`{"balance":110}`), "update b")
		mustOK(t, b.release(false), "release b decides")
		for key, want := range map[string]string{"acct/a": `{"balance":90}`, "acct/b": `{"balance":110}`} {
			if p := publicGet(s, key); string(p.Body) != want {
				t.Fatalf("%s = %d %s", key, p.Status, p.Body)
			}
		}
		mustOK(t, a.release(false), "later release answers with the outcome")
		r := s.Do("POST", "/v1/txn/replay", fmt.Sprintf(`{"txn_id":%q}`, a.TxnID))
		var rep api.TxnReplayResponse
		r.JSON(t, &rep)
		if r.Status != 200 || rep.State != "commit" {
			t.Fatalf("replay: %d %s", r.Status, r.Body)
		}
	})
}

func TestDecideRollbackAndAbort(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		a := acquire(t, s, "x", "w")
		b := acquire(t, s, "y", "w", fmt.Sprintf(`"txn_id":%q`, a.TxnID))
		mustOK(t, a.update(`1`), "update")
		mustOK(t, b.update(`2`), "update")
		r := s.Do("POST", "/v1/txn/decide", fmt.Sprintf(`{"txn_id":%q,"state":"ROLLBACK"}`, a.TxnID))
		var d api.TxnDecisionResponse
		r.JSON(t, &d)
		if r.Status != 200 || d.State != "rollback" {
			t.Fatalf("decide: %d %s", r.Status, r.Body)
		}
		if publicGet(s, "x").Status != 204 || publicGet(s, "y").Status != 204 {
			t.Fatal("rollback leaked")
		}
		wantError(t, a.release(false), 409, api.CodeTxnAborted)
		mustOK(t, a.release(true), "rollback release")

		// A participant whose lease expired aborts the commit.
		c := acquire(t, s, "p", "w", `"ttl_seconds":60`)
		e := acquire(t, s, "q", "w", fmt.Sprintf(`"txn_id":%q,"ttl_seconds":1`, c.TxnID))
		mustOK(t, c.update(`"c"`), "update")
		mustOK(t, e.update(`"e"`), "update")
		deadline := time.Now().Add(5 * time.Second)
		for e.get().Status != 403 {
			if time.Now().After(deadline) {
				t.Fatal("lease never expired")
			}
			time.Sleep(100 * time.Millisecond)
		}
		wantError(t, c.release(false), 409, api.CodeTxnAborted)
		if publicGet(s, "p").Status != 204 || publicGet(s, "q").Status != 204 {
			t.Fatal("partial commit after an expired participant")
		}
	})
}

func TestTxnEndpointErrors(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		wantError(t, s.Do("POST", "/v1/txn/replay", `{}`), 400, api.CodeMissingTxnID)
		wantError(t, s.Do("POST", "/v1/txn/replay", `{"txn_id":"c5v9d0sl70b3m3q8ndg0"}`), 404, api.CodeTxnNotFound)
		wantError(t, s.Do("POST", "/v1/txn/decide", `{"txn_id":"nope","state":"commit"}`), 400, api.CodeInvalidTxnID)
		wantError(t, s.Do("POST", "/v1/txn/decide", `{"txn_id":"c5v9d0sl70b3m3q8ndg0","state":"maybe"}`), 400, api.CodeInvalidState)
		wantError(t, s.Do("POST", "/v1/txn/decide", `{"txn_id":"c5v9d0sl70b3m3q8ndg0","state":"commit","participants":[{"namespace":"default","key":"a//b"}]}`), 400, api.CodeInvalidKey)
		wantError(t, s.Do("POST", "/v1/txn/decide", `{"txn_id":`), 400, api.CodeInvalidBody)
		// A join of a decided transaction is refused and the key is free.
		a := acquire(t, s, "j1", "w")
		acquire(t, s, "j2", "w", fmt.Sprintf(`"txn_id":%q`, a.TxnID))
		mustOK(t, a.release(false), "commit")
		wantError(t, s.Do("POST", "/v1/acquire", fmt.Sprintf(`{"key":"j3","owner":"w","txn_id":%q}`, a.TxnID)), 409, api.CodeTxnMismatch)
		acquire(t, s, "j3", "w")
	})
}

func TestTCEndpointsSingleNode(t *testing.T) {
	s := edgetest.Start(t, edgetest.Mem, server.Config{})
	var l api.TCLeaderResponse
	r := s.Do("GET", "/v1/tc/leader", nil)
	r.JSON(t, &l)
	if r.Status != 200 || l.LeaderID == "" || l.Term < 1 {
		t.Fatalf("leader: %d %s", r.Status, r.Body)
	}
	var acq api.TCLeaseAcquireResponse
	s.Do("POST", "/v1/tc/lease/acquire", `{"candidate_id":"other","candidate_endpoint":"http://127.0.0.2:1","ttl_ms":1000}`).JSON(t, &acq)
	if acq.Granted || acq.LeaderID != l.LeaderID {
		t.Fatalf("another candidate took the lease: %+v", acq)
	}
	wantError(t, s.Do("POST", "/v1/tc/lease/acquire", `{}`), 400, api.CodeMissingCandidateID)
	var ren api.TCLeaseRenewResponse
	s.Do("POST", "/v1/tc/lease/renew", fmt.Sprintf(`{"leader_id":%q,"term":%d}`, l.LeaderID, l.Term)).JSON(t, &ren)
	if !ren.Renewed {
		t.Fatalf("renew: %+v", ren)
	}
	// Releasing the lease starts a new term: decisions of the old term are stale.
	var rel api.TCLeaseReleaseResponse
	s.Do("POST", "/v1/tc/lease/release", fmt.Sprintf(`{"leader_id":%q,"term":%d}`, l.LeaderID, l.Term)).JSON(t, &rel)
	if !rel.Released {
		t.Fatal("release refused")
	}
	a := acquire(t, s, "t1", "w")
	acquire(t, s, "t2", "w", fmt.Sprintf(`"txn_id":%q`, a.TxnID))
	wantError(t, s.Do("POST", "/v1/txn/commit", fmt.Sprintf(`{"txn_id":%q,"tc_term":%d}`, a.TxnID, l.Term)), 409, api.CodeTCTermStale)
	r = s.Do("POST", "/v1/txn/commit", fmt.Sprintf(`{"txn_id":%q,"tc_term":%d}`, a.TxnID, l.Term+1))
	mustOK(t, r, "commit with current term")

	var ann api.TCClusterAnnounceResponse
	s.Do("POST", "/v1/tc/cluster/announce", `{"self_endpoint":"http://127.0.0.3:9341"}`).JSON(t, &ann)
	if len(ann.Endpoints) != 2 || ann.ExpiresAtUnix == 0 {
		t.Fatalf("announce %+v", ann)
	}
	var list api.TCClusterListResponse
	s.Do("GET", "/v1/tc/cluster/list", nil).JSON(t, &list)
	if len(list.Endpoints) != 2 {
		t.Fatalf("list %+v", list)
	}
	s.Do("POST", "/v1/tc/cluster/leave", `{"self_endpoint":"http://127.0.0.3:9341"}`).JSON(t, &list)
	if len(list.Endpoints) != 1 {
		t.Fatalf("after leave %+v", list)
	}
	var reg api.TCRMRegisterResponse
	s.Do("POST", "/v1/tc/rm/register", `{"backend_hash":"h1","endpoint":"http://127.0.0.4:9341"}`).JSON(t, &reg)
	if reg.BackendHash != "h1" || len(reg.Endpoints) != 1 {
		t.Fatalf("register %+v", reg)
	}
	var rms api.TCRMListResponse
	s.Do("GET", "/v1/tc/rm/list", nil).JSON(t, &rms)
	// The node registered itself under its store's backend hash, beside h1.
	if len(rms.Backends) != 2 {
		t.Fatalf("rm list %+v", rms)
	}
	wantError(t, s.Do("POST", "/v1/tc/rm/register", `{"endpoint":"x"}`), 400, api.CodeMissingBackendHash)
	var unreg api.TCRMRegisterResponse
	s.Do("POST", "/v1/tc/rm/unregister", `{"backend_hash":"h1","endpoint":"http://127.0.0.4:9341"}`).JSON(t, &unreg)
	if unreg.BackendHash != "h1" || len(unreg.Endpoints) != 0 {
		t.Fatalf("unregister %+v", unreg)
	}

}

// A commit decided through /v1/txn/decide that aborts because a
// participant lost its lease answers 409 txn_aborted, not the
// participant's lease error that caused it.
func TestDecideCommitAbortedByExpiredParticipant(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		a := acquire(t, s, "da", "w", `"ttl_seconds":60`)
		b := acquire(t, s, "db", "w", fmt.Sprintf(`"txn_id":%q,"ttl_seconds":1`, a.TxnID))
		mustOK(t, a.update(`"a"`), "update")
		mustOK(t, b.update(`"b"`), "update")
		deadline := time.Now().Add(5 * time.Second)
		for b.get().Status != 403 {
			if time.Now().After(deadline) {
				t.Fatal("lease never expired")
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := s.Do("POST", "/v1/txn/decide", fmt.Sprintf(`{"txn_id":%q,"state":"commit"}`, a.TxnID))
		wantError(t, r, 409, api.CodeTxnAborted)
		var st api.TxnReplayResponse
		s.Do("POST", "/v1/txn/replay", fmt.Sprintf(`{"txn_id":%q}`, a.TxnID)).JSON(t, &st)
		if st.State != "rollback" {
			t.Fatalf("state after the aborted commit: %+v", st)
		}
		if publicGet(s, "da").Status != 204 || publicGet(s, "db").Status != 204 {
			t.Fatal("partial commit after an aborted decide")
		}
	})
}
