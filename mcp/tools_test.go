package mcp_test

import (
	"context"
	"testing"
	"time"

	"github.com/lockdhq/lockd/mcp"
)

// Every tool is listed with an input and an output schema and a
// description an agent can act on.
func TestToolsAreListedWithSchemas(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	cs := e.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lock_acquire", "lock_keepalive", "lock_release", "lock_describe", "lock_list",
		"state_get", "state_update", "state_remove", "state_metadata", "state_mutate", "query",
		"attachment_put", "attachment_list", "attachment_get", "attachment_delete",
		"queue_enqueue", "queue_dequeue", "queue_ack", "queue_nack", "queue_extend", "queue_stats", "queue_dlq_list", "queue_dlq_requeue",
		"txn_begin", "txn_commit", "txn_rollback",
		"upload_begin", "upload_write", "upload_finish", "upload_abort", "download_read", "download_close"}
	got := map[string]bool{}
	for _, tl := range res.Tools {
		got[tl.Name] = true
		if tl.InputSchema == nil || tl.OutputSchema == nil || len(tl.Description) < 30 {
			t.Errorf("tool %s: input schema %v, output schema %v, description %q", tl.Name, tl.InputSchema != nil, tl.OutputSchema != nil, tl.Description)
		}
	}
	for _, n := range want {
		if !got[n] {
			t.Errorf("tool %s is missing", n)
		}
	}
	if len(res.Tools) != len(want) {
		t.Errorf("%d tools, want %d", len(res.Tools), len(want))
	}
}

// The lease and state tools: acquire, read through the lease, stage,
// commit on release, compare-and-swap, mutate, metadata, remove.
func TestLeaseAndStateTools(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	cs := e.connect(t)

	var l lease
	must(t, cs, "lock_acquire", args{"key": "orders/1", "ttl_seconds": 20}, &l)
	if l.LeaseID == "" || l.TxnID == "" || l.FencingToken < 1 || l.ExpiresIn < 10 || l.Namespace != "default" {
		t.Fatalf("lease %+v", l)
	}
	var st stateOut
	must(t, cs, "state_get", args{"lease_id": l.LeaseID}, &st)
	if st.Exists {
		t.Fatalf("fresh key has state: %+v", st)
	}
	var w struct {
		NewVersion int64 `json:"new_version"`
		Staged     bool  `json:"staged"`
	}
	must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"status": "new", "count": 1}}, &w)
	if w.NewVersion != 1 || !w.Staged {
		t.Fatalf("update %+v", w)
	}
	must(t, cs, "state_get", args{"lease_id": l.LeaseID}, &st)
	if doc, _ := st.Document.(map[string]any); doc["status"] != "new" {
		t.Fatalf("lease view %+v", st)
	}
	must(t, cs, "state_get", args{"key": "orders/1"}, &st)
	if st.Exists {
		t.Fatalf("staged state visible before commit: %+v", st)
	}
	must(t, cs, "state_mutate", args{"lease_id": l.LeaseID, "mutations": []string{`/status="paid"`, "/count++"}}, &w)
	var d struct {
		Held    bool   `json:"held"`
		Owner   string `json:"owner"`
		Version int64  `json:"version"`
	}
	must(t, cs, "lock_describe", args{"key": "orders/1"}, &d)
	if !d.Held || d.Owner == "" {
		t.Fatalf("describe while held %+v", d)
	}
	var ka lease
	must(t, cs, "lock_keepalive", args{"lease_id": l.LeaseID, "ttl_seconds": 60}, &ka)
	if ka.ExpiresIn < 50 {
		t.Fatalf("keepalive %+v", ka)
	}
	var list struct{ Leases []lease }
	must(t, cs, "lock_list", args{}, &list)
	if len(list.Leases) != 1 || list.Leases[0].LeaseID != l.LeaseID {
		t.Fatalf("lock_list %+v", list)
	}
	var rel struct {
		Released, Committed bool
	}
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, &rel)
	if !rel.Released || !rel.Committed {
		t.Fatalf("release %+v", rel)
	}
	must(t, cs, "state_get", args{"key": "orders/1"}, &st)
	doc, _ := st.Document.(map[string]any)
	if !st.Exists || st.Version != 1 || doc["status"] != "paid" || doc["count"] != float64(2) {
		t.Fatalf("committed %+v", st)
	}
	mustFail(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{}}, mcp.CodeLeaseNotHeld)

	// Compare-and-swap against a stale version, then metadata and remove.
	must(t, cs, "lock_acquire", args{"key": "orders/1"}, &l)
	te := mustFail(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"x": 1}, "if_version": 7}, "version_conflict")
	if te.Next == "" || te.Detail == "" {
		t.Fatalf("conflict error %+v", te)
	}
	must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"x": 1}, "if_version": 1, "if_etag": st.ETag}, &w)
	var md struct {
		QueryHidden bool `json:"query_hidden"`
	}
	must(t, cs, "state_metadata", args{"lease_id": l.LeaseID, "query_hidden": true}, &md)
	if !md.QueryHidden {
		t.Fatalf("metadata %+v", md)
	}
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	must(t, cs, "lock_describe", args{"key": "orders/1"}, &d)
	if d.Held || d.Version != 2 {
		t.Fatalf("describe after release %+v", d)
	}
	must(t, cs, "lock_acquire", args{"key": "orders/1"}, &l)
	var rm struct{ Removed bool }
	must(t, cs, "state_remove", args{"lease_id": l.LeaseID}, &rm)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID, "rollback": true}, &rel)
	must(t, cs, "state_get", args{"key": "orders/1"}, &st)
	if !st.Exists {
		t.Fatal("rolled-back remove deleted the state")
	}
	must(t, cs, "lock_acquire", args{"key": "orders/1"}, &l)
	must(t, cs, "state_remove", args{"lease_id": l.LeaseID}, &rm)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, &rel)
	must(t, cs, "state_get", args{"key": "orders/1"}, &st)
	if st.Exists || !rm.Removed {
		t.Fatalf("removed state still there: %+v %+v", st, rm)
	}
	mustFail(t, cs, "state_get", args{}, mcp.CodeInvalidArgument)
	mustFail(t, cs, "lock_acquire", args{"key": "x", "namespace": ".txns"}, "invalid_namespace")
}
