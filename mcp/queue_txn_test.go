package mcp_test

import (
	"testing"

	"github.com/lockdhq/lockd/mcp"
)

type delivery struct {
	Found     bool           `json:"found"`
	MessageID string         `json:"message_id"`
	Attempts  int64          `json:"attempts"`
	Attrs     map[string]any `json:"attributes"`
	Payload   struct {
		Text     string `json:"text"`
		Base64   string `json:"base64"`
		StreamID string `json:"stream_id"`
	} `json:"payload"`
}

// The queue tools: enqueue, stats, dequeue, ack, nack, extend, DLQ.
func TestQueueTools(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	cs := e.connect(t)
	var enq struct {
		MessageID string `json:"message_id"`
	}
	must(t, cs, "queue_enqueue", args{"queue": "jobs", "json": args{"job": 1}, "attributes": args{"prio": "high"}}, &enq)
	must(t, cs, "queue_enqueue", args{"queue": "jobs", "text": "second"}, nil)
	var st struct {
		Ready int64 `json:"ready"`
	}
	must(t, cs, "queue_stats", args{"queue": "jobs"}, &st)
	if st.Ready != 2 {
		t.Fatalf("stats %+v", st)
	}
	var d delivery
	must(t, cs, "queue_dequeue", args{"queue": "jobs", "wait_seconds": 5}, &d)
	if !d.Found || d.MessageID != enq.MessageID || d.Payload.Text != `{"job":1}` || d.Attrs["prio"] != "high" {
		t.Fatalf("first delivery %+v", d)
	}
	must(t, cs, "queue_extend", args{"message_id": d.MessageID, "extend_by_seconds": 60}, nil)
	must(t, cs, "queue_ack", args{"message_id": d.MessageID}, nil)
	mustFail(t, cs, "queue_ack", args{"message_id": d.MessageID}, mcp.CodeMessageNotHeld)

	must(t, cs, "queue_dequeue", args{"queue": "jobs", "wait_seconds": 5}, &d)
	if d.Payload.Text != "second" {
		t.Fatalf("second delivery %+v", d)
	}
	must(t, cs, "queue_nack", args{"message_id": d.MessageID, "intent": "defer"}, nil)
	var again delivery
	must(t, cs, "queue_dequeue", args{"queue": "jobs", "wait_seconds": 5}, &again)
	if again.MessageID != d.MessageID {
		t.Fatalf("nacked message not redelivered: %+v", again)
	}
	must(t, cs, "queue_ack", args{"message_id": again.MessageID}, nil)
	must(t, cs, "queue_dequeue", args{"queue": "jobs"}, &d)
	if d.Found {
		t.Fatalf("empty queue delivered %+v", d)
	}

	// A message that fails its only attempt goes to the DLQ and back.
	must(t, cs, "queue_enqueue", args{"queue": "fragile", "text": "x", "max_attempts": 1}, &enq)
	must(t, cs, "queue_dequeue", args{"queue": "fragile", "wait_seconds": 5}, &d)
	must(t, cs, "queue_nack", args{"message_id": d.MessageID, "last_error": args{"why": "boom"}}, nil)
	var dlq struct {
		Messages []struct {
			MessageID string         `json:"message_id"`
			Reason    string         `json:"reason"`
			LastError map[string]any `json:"last_error"`
		} `json:"messages"`
	}
	must(t, cs, "queue_dlq_list", args{"queue": "fragile"}, &dlq)
	if len(dlq.Messages) != 1 || dlq.Messages[0].MessageID != enq.MessageID || dlq.Messages[0].Reason == "" {
		t.Fatalf("dlq %+v", dlq)
	}
	var rq struct{ Requeued []string }
	must(t, cs, "queue_dlq_requeue", args{"queue": "fragile", "all": true}, &rq)
	if len(rq.Requeued) != 1 {
		t.Fatalf("requeue %+v", rq)
	}
	must(t, cs, "queue_dequeue", args{"queue": "fragile", "wait_seconds": 5}, &d)
	if !d.Found || d.MessageID != enq.MessageID {
		t.Fatalf("requeued message %+v", d)
	}
	must(t, cs, "queue_ack", args{"message_id": d.MessageID}, nil)
	mustFail(t, cs, "queue_nack", args{"message_id": "nope"}, mcp.CodeMessageNotHeld)
	mustFail(t, cs, "queue_enqueue", args{"queue": "jobs", "text": "a", "base64": "YQ=="}, mcp.CodeInvalidArgument)
}

// txn_begin leases several keys in one transaction; txn_commit commits
// all of them, txn_rollback none; a key that cannot be taken gives the
// others back.
func TestTxnTools(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	cs := e.connect(t)
	var tx struct {
		TxnID  string  `json:"txn_id"`
		Leases []lease `json:"leases"`
	}
	must(t, cs, "txn_begin", args{"keys": []args{{"key": "acct-b"}, {"key": "acct-a"}, {"key": "acct-a"}}}, &tx)
	if len(tx.Leases) != 2 || tx.Leases[0].Key != "acct-a" || tx.Leases[0].TxnID != tx.TxnID || tx.Leases[1].TxnID != tx.TxnID {
		t.Fatalf("txn_begin %+v", tx)
	}
	for i, l := range tx.Leases {
		must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"balance": 100 * (i + 1)}}, nil)
	}
	// A third key joins the same transaction through lock_acquire.
	var third lease
	must(t, cs, "lock_acquire", args{"key": "acct-c", "txn_id": tx.TxnID}, &third)
	must(t, cs, "state_update", args{"lease_id": third.LeaseID, "document": args{"balance": 1}}, nil)
	var end struct {
		Committed bool     `json:"committed"`
		Keys      []string `json:"keys"`
	}
	must(t, cs, "txn_commit", args{"txn_id": tx.TxnID}, &end)
	if !end.Committed || len(end.Keys) != 3 {
		t.Fatalf("commit %+v", end)
	}
	var st stateOut
	for _, k := range []string{"acct-a", "acct-b", "acct-c"} {
		must(t, cs, "state_get", args{"key": k}, &st)
		if !st.Exists {
			t.Fatalf("%s not committed", k)
		}
	}
	mustFail(t, cs, "txn_commit", args{"txn_id": tx.TxnID}, mcp.CodeTxnNotHeld)

	must(t, cs, "txn_begin", args{"keys": []args{{"key": "acct-a"}, {"key": "acct-b"}}}, &tx)
	for _, l := range tx.Leases {
		must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"balance": 0}}, nil)
	}
	must(t, cs, "txn_rollback", args{"txn_id": tx.TxnID}, nil)
	must(t, cs, "state_get", args{"key": "acct-a"}, &st)
	if doc := st.Document.(map[string]any); doc["balance"] != float64(100) {
		t.Fatalf("rollback changed acct-a: %+v", st)
	}

	// Someone else holds acct-b: the transaction cannot start and acct-a
	// is given back at once.
	other := e.connect(t)
	var held lease
	must(t, other, "lock_acquire", args{"key": "acct-b"}, &held)
	mustFail(t, cs, "txn_begin", args{"keys": []args{{"key": "acct-a"}, {"key": "acct-b"}}}, "waiting")
	var dsc struct{ Held bool }
	must(t, cs, "lock_describe", args{"key": "acct-a"}, &dsc)
	if dsc.Held {
		t.Fatal("acct-a still leased after a failed txn_begin")
	}
	mustFail(t, cs, "lock_acquire", args{"key": "x", "txn_id": "c5v9d0sl70b3m3q8ndg0"}, mcp.CodeTxnNotHeld)
}
