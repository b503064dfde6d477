package sdk_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// unknownTxn is a valid xid no transaction has.
const unknownTxn = "c5v9d0sl70b3m3q8ndg0"

// twoKeyTxn acquires a and b in one transaction and stages value in both.
func twoKeyTxn(t *testing.T, ctx context.Context, c *sdk.Client, a, b string, value int) string {
	t.Helper()
	sa, err := c.Acquire(ctx, api.AcquireRequest{Key: a, Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Acquire(ctx, api.AcquireRequest{Key: b, Owner: "w", TTLSeconds: 30, TxnID: sa.TxnID})
	if err != nil {
		t.Fatal(err)
	}
	if sb.TxnID != sa.TxnID {
		t.Fatalf("second key joined txn %q, want %q", sb.TxnID, sa.TxnID)
	}
	for _, s := range []*sdk.LeaseSession{sa, sb} {
		if err := s.Save(ctx, map[string]int{"v": value}); err != nil {
			t.Fatal(err)
		}
	}
	return sa.TxnID
}

// committed returns a key's committed "v", or -1 when it has no state.
func committed(t *testing.T, ctx context.Context, c *sdk.Client, key string) int {
	t.Helper()
	g, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !g.HasState {
		return -1
	}
	var doc struct{ V int }
	if err := g.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.V
}

func wantCode(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("%s: %v, want %d %s", what, err, status, code)
	}
}

func TestTxnPrepareCommitReplay(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	id := twoKeyTxn(t, ctx, c, "acct-a", "acct-b", 7)
	parts := []api.TxnParticipant{{Namespace: "default", Key: "acct-a"}, {Namespace: "default", Key: "acct-b"}}

	// A prepared transaction is recorded, not decided; its rollback
	// reaches every participant.
	pid := twoKeyTxn(t, ctx, c, "prep-a", "prep-b", 4)
	pparts := []api.TxnParticipant{{Namespace: "default", Key: "prep-a"}, {Namespace: "default", Key: "prep-b"}}
	p, err := c.TxnPrepare(ctx, api.TxnDecisionRequest{TxnID: pid, Participants: pparts})
	if err != nil || p.State != sdk.TxnPending || p.TxnID != pid {
		t.Fatalf("prepare: %+v %v", p, err)
	}
	if v := committed(t, ctx, c, "prep-a"); v != -1 {
		t.Fatalf("prepared txn visible: %d", v)
	}
	if d, err := c.TxnRollback(ctx, api.TxnDecisionRequest{TxnID: pid}); err != nil || d.State != sdk.TxnRollback {
		t.Fatalf("rollback of a prepared txn: %+v %v", d, err)
	}
	for _, k := range []string{"prep-a", "prep-b"} {
		if v := committed(t, ctx, c, k); v != -1 {
			t.Fatalf("%s after rollback: %d", k, v)
		}
	}
	// A commit may name the participants itself.
	d, err := c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: id, Participants: parts})
	if err != nil || d.State != sdk.TxnCommit {
		t.Fatalf("commit: %+v %v", d, err)
	}
	for _, k := range []string{"acct-a", "acct-b"} {
		if v := committed(t, ctx, c, k); v != 7 {
			t.Fatalf("%s after commit: %d", k, v)
		}
	}
	// A decided transaction keeps its decision.
	if d, err := c.TxnRollback(ctx, api.TxnDecisionRequest{TxnID: id}); err != nil || d.State != sdk.TxnCommit {
		t.Fatalf("rollback after commit: %+v %v", d, err)
	}
	r, err := c.TxnReplay(ctx, id)
	if err != nil || r.State != sdk.TxnCommit || r.TxnID != id {
		t.Fatalf("replay: %+v %v", r, err)
	}
	// The RM side applies the recorded decision again, idempotently, and
	// refuses the contradicting one.
	if a, err := c.TxnApplyCommit(ctx, api.TxnDecisionRequest{TxnID: id}); err != nil || a.State != sdk.TxnCommit {
		t.Fatalf("apply commit: %+v %v", a, err)
	}
	_, err = c.TxnApplyRollback(ctx, api.TxnDecisionRequest{TxnID: id})
	wantCode(t, "apply rollback of a committed txn", err, 409, api.CodeTxnMismatch)
	if !errors.Is(err, sdk.ErrTxnMismatch) {
		t.Fatalf("errors.Is(ErrTxnMismatch) false for %v", err)
	}
	if v := committed(t, ctx, c, "acct-b"); v != 7 {
		t.Fatalf("after replays: %d", v)
	}
}

func TestTxnRollbackAndApply(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	id := twoKeyTxn(t, ctx, c, "r-a", "r-b", 1)
	d, err := c.TxnRollback(ctx, api.TxnDecisionRequest{TxnID: id})
	if err != nil || d.State != sdk.TxnRollback {
		t.Fatalf("rollback: %+v %v", d, err)
	}
	for _, k := range []string{"r-a", "r-b"} {
		if v := committed(t, ctx, c, k); v != -1 {
			t.Fatalf("%s after rollback: %d", k, v)
		}
	}
	if r, err := c.TxnReplay(ctx, id); err != nil || r.State != sdk.TxnRollback {
		t.Fatalf("replay: %+v %v", r, err)
	}

	// An RM apply that names participants applies to exactly them.
	id2 := twoKeyTxn(t, ctx, c, "p-a", "p-b", 2)
	both := []api.TxnParticipant{{Namespace: "default", Key: "p-a"}, {Namespace: "default", Key: "p-b"}}
	a, err := c.TxnApplyCommit(ctx, api.TxnDecisionRequest{TxnID: id2, Participants: both, TCTerm: 1})
	if err != nil || a.State != sdk.TxnCommit || a.TxnID != id2 {
		t.Fatalf("apply commit with participants: %+v %v", a, err)
	}
	for _, k := range []string{"p-a", "p-b"} {
		if v := committed(t, ctx, c, k); v != 2 {
			t.Fatalf("%s after RM commit: %d", k, v)
		}
	}
	// A key outside any record rolls back through the RM endpoint too.
	s, err := c.Acquire(ctx, api.AcquireRequest{Key: "solo", Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, map[string]int{"v": 3}); err != nil {
		t.Fatal(err)
	}
	one := []api.TxnParticipant{{Namespace: "default", Key: "solo"}}
	if a, err := c.TxnApplyRollback(ctx, api.TxnDecisionRequest{TxnID: s.TxnID, Participants: one}); err != nil || a.State != sdk.TxnRollback {
		t.Fatalf("apply rollback: %+v %v", a, err)
	}
	if v := committed(t, ctx, c, "solo"); v != -1 {
		t.Fatalf("solo after RM rollback: %d", v)
	}
}

func TestTxnErrors(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)

	_, err := c.TxnReplay(ctx, unknownTxn)
	wantCode(t, "replay unknown", err, 404, api.CodeTxnNotFound)
	if !errors.Is(err, sdk.ErrTxnNotFound) {
		t.Fatalf("errors.Is(ErrTxnNotFound) false for %v", err)
	}
	_, err = c.TxnReplay(ctx, "")
	wantCode(t, "replay without id", err, 400, api.CodeMissingTxnID)
	_, err = c.TxnReplay(ctx, "not-an-xid")
	wantCode(t, "replay bad id", err, 400, api.CodeInvalidTxnID)
	_, err = c.TxnApplyCommit(ctx, api.TxnDecisionRequest{TxnID: unknownTxn})
	wantCode(t, "apply commit unknown", err, 404, api.CodeTxnNotFound)
	_, err = c.TxnApplyRollback(ctx, api.TxnDecisionRequest{TxnID: unknownTxn})
	wantCode(t, "apply rollback unknown", err, 404, api.CodeTxnNotFound)
	_, err = c.TxnDecide(ctx, api.TxnDecisionRequest{TxnID: unknownTxn, State: "maybe"})
	wantCode(t, "decide bad state", err, 400, api.CodeInvalidState)
	_, err = c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: unknownTxn, Participants: []api.TxnParticipant{{Key: "k"}}})
	wantCode(t, "participant without namespace", err, 400, api.CodeInvalidNamespace)
	_, err = c.TxnPrepare(ctx, api.TxnDecisionRequest{})
	wantCode(t, "prepare without id", err, 400, api.CodeMissingTxnID)

	// A commit asked of a rolled-back transaction: txn_aborted.
	id := twoKeyTxn(t, ctx, c, "ab-a", "ab-b", 5)
	if _, err := c.TxnRollback(ctx, api.TxnDecisionRequest{TxnID: id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: id})
	wantCode(t, "commit of a rolled-back txn", err, 409, api.CodeTxnAborted)
	if !errors.Is(err, sdk.ErrTxnAborted) {
		t.Fatalf("errors.Is(ErrTxnAborted) false for %v", err)
	}
	if v := committed(t, ctx, c, "ab-a"); v != -1 {
		t.Fatalf("aborted txn committed ab-a: %d", v)
	}
}

// After the leader's term moves on, a decision carrying the old term is
// refused: tc_term_stale.
func TestTxnStaleTerm(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	l, err := c.TCLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := l.Term
	rel, err := c.TCLeaseRelease(ctx, api.TCLeaseReleaseRequest{LeaderID: l.LeaderID, Term: old})
	if err != nil || !rel.Released {
		t.Fatalf("release: %+v %v", rel, err)
	}
	l2, err := c.TCLeader(ctx)
	if err != nil || l2.Term <= old {
		t.Fatalf("term after release: %+v %v (was %d)", l2, err, old)
	}
	id := twoKeyTxn(t, ctx, c, "st-a", "st-b", 9)
	_, err = c.TxnApplyCommit(ctx, api.TxnDecisionRequest{TxnID: id, TCTerm: old})
	wantCode(t, "apply with a stale term", err, 409, api.CodeTCTermStale)
	_, err = c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: id, TCTerm: old})
	wantCode(t, "decide with a stale term", err, 409, api.CodeTCTermStale)
	if !errors.Is(err, sdk.ErrTCTermStale) {
		t.Fatalf("errors.Is(ErrTCTermStale) false for %v", err)
	}
	if v := committed(t, ctx, c, "st-a"); v != -1 {
		t.Fatalf("stale decision applied: %d", v)
	}
	// The current term decides.
	if d, err := c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: id, TCTerm: l2.Term}); err != nil || d.State != sdk.TxnCommit {
		t.Fatalf("commit with the current term: %+v %v", d, err)
	}
	if v := committed(t, ctx, c, "st-b"); v != 9 {
		t.Fatalf("st-b after commit: %d", v)
	}
}

func TestTCLeaderAndLease(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	l, err := c.TCLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l.LeaderID == "" || l.Term < 1 || l.LeaderEndpoint != ts.Endpoint || l.ExpiresAt == 0 {
		t.Fatalf("leader: %+v (endpoint %s)", l, ts.Endpoint)
	}
	self := api.TCLeaseAcquireRequest{CandidateID: l.LeaderID, CandidateEndpoint: ts.Endpoint, TTLMs: 5000}
	if g, err := c.TCLeaseAcquire(ctx, self); err != nil || !g.Granted || g.LeaderID != l.LeaderID || g.Term != l.Term {
		t.Fatalf("acquire by the leader: %+v %v", g, err)
	}
	other := api.TCLeaseAcquireRequest{CandidateID: "someone-else", CandidateEndpoint: "http://127.0.0.1:1"}
	if g, err := c.TCLeaseAcquire(ctx, other); err != nil || g.Granted || g.LeaderID != l.LeaderID {
		t.Fatalf("acquire by another candidate: %+v %v", g, err)
	}
	_, err = c.TCLeaseAcquire(ctx, api.TCLeaseAcquireRequest{})
	wantCode(t, "acquire without candidate", err, 400, api.CodeMissingCandidateID)

	if r, err := c.TCLeaseRenew(ctx, api.TCLeaseRenewRequest{LeaderID: l.LeaderID, Term: l.Term, TTLMs: 5000}); err != nil || !r.Renewed || r.Term != l.Term {
		t.Fatalf("renew: %+v %v", r, err)
	}
	if r, err := c.TCLeaseRenew(ctx, api.TCLeaseRenewRequest{LeaderID: l.LeaderID, Term: l.Term + 5}); err != nil || r.Renewed {
		t.Fatalf("renew of a term not held: %+v %v", r, err)
	}
	_, err = c.TCLeaseRenew(ctx, api.TCLeaseRenewRequest{})
	wantCode(t, "renew without leader", err, 400, api.CodeMissingLeaderID)

	if r, err := c.TCLeaseRelease(ctx, api.TCLeaseReleaseRequest{LeaderID: "someone-else", Term: l.Term}); err != nil || r.Released {
		t.Fatalf("release by a non-leader: %+v %v", r, err)
	}
	_, err = c.TCLeaseRelease(ctx, api.TCLeaseReleaseRequest{})
	wantCode(t, "release without leader", err, 400, api.CodeMissingLeaderID)
}

func TestTCClusterMembership(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	peer := "http://127.0.0.1:19999"
	a, err := c.TCClusterAnnounce(ctx, api.TCClusterAnnounceRequest{SelfEndpoint: peer})
	if err != nil || !slices.Contains(a.Endpoints, peer) || !slices.Contains(a.Endpoints, ts.Endpoint) || a.ExpiresAtUnix == 0 {
		t.Fatalf("announce: %+v %v", a, err)
	}
	l, err := c.TCClusterList(ctx)
	if err != nil || !slices.Contains(l.Endpoints, peer) {
		t.Fatalf("list: %+v %v", l, err)
	}
	lv, err := c.TCClusterLeave(ctx, api.TCClusterLeaveRequest{SelfEndpoint: peer})
	if err != nil || slices.Contains(lv.Endpoints, peer) || !slices.Contains(lv.Endpoints, ts.Endpoint) {
		t.Fatalf("leave: %+v %v", lv, err)
	}
	if l, err := c.TCClusterList(ctx); err != nil || slices.Contains(l.Endpoints, peer) {
		t.Fatalf("list after leave: %+v %v", l, err)
	}
	_, err = c.TCClusterAnnounce(ctx, api.TCClusterAnnounceRequest{})
	wantCode(t, "announce without endpoint", err, 400, api.CodeMissingSelfEndpoint)
	_, err = c.TCClusterAnnounce(ctx, api.TCClusterAnnounceRequest{SelfEndpoint: "ftp://x"})
	wantCode(t, "announce bad endpoint", err, 400, api.CodeInvalidSelfEndpoint)
	_, err = c.TCClusterLeave(ctx, api.TCClusterLeaveRequest{})
	wantCode(t, "leave without endpoint", err, 400, api.CodeMissingSelfEndpoint)
}

func TestTCRMRegistry(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	ep1, ep2 := "http://127.0.0.1:19001", "http://127.0.0.1:19002"
	for _, ep := range []string{ep1, ep2} {
		if _, err := c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: "island-a", Endpoint: ep}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: "island-b", Endpoint: ep1})
	if err != nil || r.BackendHash != "island-b" || !slices.Equal(r.Endpoints, []string{ep1}) || r.UpdatedAtUnix == 0 {
		t.Fatalf("register: %+v %v", r, err)
	}
	// The node registers itself under its own store's hash too.
	l, err := c.TCRMList(ctx)
	if err != nil || len(l.Backends) != 3 {
		t.Fatalf("list: %+v %v", l, err)
	}
	for _, b := range l.Backends {
		if b.BackendHash != "island-a" && b.BackendHash != "island-b" {
			if !slices.Equal(b.Endpoints, []string{ts.Endpoint}) {
				t.Fatalf("the node's own backend %s: %v, want %s", b.BackendHash, b.Endpoints, ts.Endpoint)
			}
			continue
		}
		want := []string{ep1}
		if b.BackendHash == "island-a" {
			want = []string{ep1, ep2}
		}
		if !slices.Equal(b.Endpoints, want) {
			t.Fatalf("backend %s: %v, want %v", b.BackendHash, b.Endpoints, want)
		}
	}
	u, err := c.TCRMUnregister(ctx, api.TCRMUnregisterRequest{BackendHash: "island-a", Endpoint: ep1})
	if err != nil || !slices.Equal(u.Endpoints, []string{ep2}) {
		t.Fatalf("unregister: %+v %v", u, err)
	}
	_, err = c.TCRMRegister(ctx, api.TCRMRegisterRequest{Endpoint: ep1})
	wantCode(t, "register without hash", err, 400, api.CodeMissingBackendHash)
	_, err = c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: "h"})
	wantCode(t, "register without endpoint", err, 400, api.CodeMissingEndpoint)
	_, err = c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: "h", Endpoint: "nope"})
	wantCode(t, "register bad endpoint", err, 400, api.CodeInvalidEndpoint)
	_, err = c.TCRMUnregister(ctx, api.TCRMUnregisterRequest{})
	wantCode(t, "unregister without hash", err, 400, api.CodeMissingBackendHash)
}
