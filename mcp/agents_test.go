package mcp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/lockdhq/lockd/mcp"
)

// Two agents contend for one key: the second waits (block_seconds) and
// gets the lease when the first releases, with a higher fencing token and
// the first agent's committed state.
func TestTwoAgentsContendOneWaits(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	a, b := e.connect(t), e.connect(t)
	var la lease
	must(t, a, "lock_acquire", args{"key": "printer", "owner": "agent-a", "ttl_seconds": 30}, &la)
	mustFail(t, b, "lock_acquire", args{"key": "printer", "owner": "agent-b"}, "waiting")

	got := make(chan lease, 1)
	go func() {
		var lb lease
		if te := call(t, b, "lock_acquire", args{"key": "printer", "owner": "agent-b", "block_seconds": 30}, &lb); te != nil {
			t.Errorf("agent b: %+v", te)
		}
		got <- lb
	}()
	// b is parked on the key: the describe shows a's lease until a releases.
	must(t, a, "state_update", args{"lease_id": la.LeaseID, "document": args{"job": "a"}}, nil)
	select {
	case lb := <-got:
		t.Fatalf("b got the lease while a held it: %+v", lb)
	case <-time.After(300 * time.Millisecond):
	}
	must(t, a, "lock_release", args{"lease_id": la.LeaseID}, nil)
	var lb lease
	select {
	case lb = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("b never got the lease")
	}
	if lb.FencingToken <= la.FencingToken || lb.Version != 1 {
		t.Fatalf("b's lease %+v after a's %+v", lb, la)
	}
	var st stateOut
	must(t, b, "state_get", args{"lease_id": lb.LeaseID}, &st)
	if st.Document.(map[string]any)["job"] != "a" {
		t.Fatalf("b sees %+v", st)
	}
	must(t, b, "lock_release", args{"lease_id": lb.LeaseID}, nil)
}

// Fencing holds: an agent whose lease expired cannot write once another
// agent took the key, and is told to re-acquire.
func TestFencingHoldsAfterExpiry(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	a, b := e.connect(t), e.connect(t)
	var la, lb lease
	must(t, a, "lock_acquire", args{"key": "ledger", "ttl_seconds": 1}, &la)
	// b waits for the key; a forgets to keep its lease alive.
	must(t, b, "lock_acquire", args{"key": "ledger", "ttl_seconds": 30, "block_seconds": 30}, &lb)
	if lb.FencingToken <= la.FencingToken {
		t.Fatalf("fencing did not increase: a %d, b %d", la.FencingToken, lb.FencingToken)
	}
	must(t, b, "state_update", args{"lease_id": lb.LeaseID, "document": args{"owner": "b"}}, nil)
	te := call(t, a, "state_update", args{"lease_id": la.LeaseID, "document": args{"owner": "a"}}, nil)
	if te == nil {
		t.Fatal("a wrote with an expired lease")
	}
	switch te.Code {
	case "lease_expired", "lease_required", "fencing_mismatch":
	default:
		t.Fatalf("stale write error %+v", te)
	}
	must(t, b, "lock_release", args{"lease_id": lb.LeaseID}, nil)
	var st stateOut
	must(t, a, "state_get", args{"key": "ledger"}, &st)
	if st.Document.(map[string]any)["owner"] != "b" {
		t.Fatalf("committed %+v", st)
	}
}

// A session that ends gives back what it holds: its leases are rolled back
// (nothing staged is committed) and its deliveries are redelivered.
func TestSessionEndReleasesLeasesAndDeliveries(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	agent, observer := e.connect(t), e.connect(t)
	var l lease
	must(t, agent, "lock_acquire", args{"key": "forgotten", "ttl_seconds": 300}, &l)
	must(t, agent, "state_update", args{"lease_id": l.LeaseID, "document": args{"half": "done"}}, nil)
	must(t, observer, "queue_enqueue", args{"queue": "work", "text": "job"}, nil)
	var d delivery
	must(t, agent, "queue_dequeue", args{"queue": "work", "wait_seconds": 5}, &d)
	if err := agent.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forgotten lease to be released", func() bool {
		var dsc struct{ Held bool }
		must(t, observer, "lock_describe", args{"key": "forgotten"}, &dsc)
		return !dsc.Held
	})
	var st stateOut
	must(t, observer, "state_get", args{"key": "forgotten"}, &st)
	if st.Exists {
		t.Fatalf("a forgotten lease committed its staged state: %+v", st)
	}
	var again delivery
	must(t, observer, "queue_dequeue", args{"queue": "work", "wait_seconds": 10}, &again)
	if !again.Found || again.MessageID != d.MessageID {
		t.Fatalf("unsettled delivery not redelivered: %+v", again)
	}
}

// An HTTP session that goes idle is ended by its timeout, with the same
// cleanup.
func TestIdleHTTPSessionTimesOut(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{SessionTimeout: 500 * time.Millisecond})
	agent := e.connect(t)
	observer := e.node.Client
	var l lease
	must(t, agent, "lock_acquire", args{"key": "idle", "ttl_seconds": 300}, &l)
	waitFor(t, "the idle session's lease to be released", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := observer.Describe(ctx, "idle")
		return err == nil && d.LeaseID == ""
	})
}

// A lease the agent does not renew expires at its TTL: nothing renews it
// behind the agent's back.
func TestUnrenewedLeaseExpiresAtTTL(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	a, b := e.connect(t), e.connect(t)
	var l lease
	must(t, a, "lock_acquire", args{"key": "ttl", "ttl_seconds": 1}, &l)
	start := time.Now()
	var lb lease
	must(t, b, "lock_acquire", args{"key": "ttl", "block_seconds": 20}, &lb)
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("b waited %v for a 1s lease", waited)
	}
	te := call(t, a, "lock_keepalive", args{"lease_id": l.LeaseID}, nil)
	if te == nil || (te.Code != "lease_required" && te.Code != "lease_expired" && te.Code != "fencing_mismatch") {
		t.Fatalf("keepalive of an expired lease: %+v", te)
	}
	var list struct{ Leases []lease }
	must(t, a, "lock_list", args{}, &list)
	if len(list.Leases) != 0 {
		t.Fatalf("a still lists %+v", list.Leases)
	}
}

// Large payloads go through upload_begin/upload_write/upload_finish and
// download_read in chunks, for attachments, state and queue messages.
func TestChunkedUploadsAndDownloads(t *testing.T) {
	e := newEnv(t, mcp.Config{InlineBytes: 4096, ChunkBytes: 8192, MaxChunk: 16384}, mcp.HTTPOptions{})
	cs := e.connect(t)
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i*31 + i/7)
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	upload := func(begin args) map[string]any {
		var up struct {
			UploadID string `json:"upload_id"`
			Max      int64  `json:"max_chunk_bytes"`
		}
		must(t, cs, "upload_begin", begin, &up)
		if up.Max != 16384 {
			t.Fatalf("max chunk %d", up.Max)
		}
		for off := 0; off < len(data); off += 10000 {
			chunk := data[off:min(off+10000, len(data))]
			var w struct{ Written int64 }
			must(t, cs, "upload_write", args{"upload_id": up.UploadID, "base64": base64.StdEncoding.EncodeToString(chunk)}, &w)
			if w.Written != int64(off+len(chunk)) {
				t.Fatalf("written %d at offset %d", w.Written, off)
			}
		}
		var fin map[string]any
		must(t, cs, "upload_finish", args{"upload_id": up.UploadID}, &fin)
		if fin["sha256"] != hexSum || fin["bytes"] != float64(len(data)) {
			t.Fatalf("finish %v", fin)
		}
		return fin
	}
	var l lease
	must(t, cs, "lock_acquire", args{"key": "big"}, &l)
	fin := upload(args{"target": "attachment", "lease_id": l.LeaseID, "name": "data.bin", "expected_sha256": hexSum})
	if fin["attachment"] == nil {
		t.Fatalf("attachment upload %v", fin)
	}
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	var got struct {
		StreamID string `json:"stream_id"`
	}
	must(t, cs, "attachment_get", args{"key": "big", "name": "data.bin"}, &got)
	back, backSum := readDownload(t, cs, got.StreamID, 16384)
	if backSum != hexSum || len(back) != len(data) {
		t.Fatalf("attachment round trip: %d bytes, %s", len(back), backSum)
	}

	// A queue message whose payload streams both ways.
	upload(args{"target": "queue", "queue": "bulk", "content_type": "application/octet-stream"})
	var d delivery
	must(t, cs, "queue_dequeue", args{"queue": "bulk", "wait_seconds": 5}, &d)
	if d.Payload.StreamID == "" {
		t.Fatalf("large payload inline: %+v", d)
	}
	if _, s := readDownload(t, cs, d.Payload.StreamID, 9000); s != hexSum {
		t.Fatalf("queue payload sha %s", s)
	}
	must(t, cs, "queue_ack", args{"message_id": d.MessageID}, nil)

	// A large JSON document.
	doc := []byte(`{"blob":"` + base64.StdEncoding.EncodeToString(data) + `"}`)
	must(t, cs, "lock_acquire", args{"key": "bigdoc"}, &l)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	must(t, cs, "upload_begin", args{"target": "state", "lease_id": l.LeaseID}, &up)
	for off := 0; off < len(doc); off += 16000 {
		must(t, cs, "upload_write", args{"upload_id": up.UploadID, "text": string(doc[off:min(off+16000, len(doc))])}, nil)
	}
	must(t, cs, "upload_finish", args{"upload_id": up.UploadID}, nil)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	var st stateOut
	must(t, cs, "state_get", args{"key": "bigdoc"}, &st)
	if st.StreamID == "" || st.Document != nil {
		t.Fatalf("large document inline: %v", st.StreamID)
	}
	if back, _ := readDownload(t, cs, st.StreamID, 16384); string(back) != string(doc) {
		t.Fatalf("document round trip: %d bytes of %d", len(back), len(doc))
	}

	// An aborted upload leaves nothing behind; oversized chunks are refused.
	must(t, cs, "lock_acquire", args{"key": "big"}, &l)
	must(t, cs, "upload_begin", args{"target": "attachment", "lease_id": l.LeaseID, "name": "partial.bin"}, &up)
	must(t, cs, "upload_write", args{"upload_id": up.UploadID, "text": "partial"}, nil)
	mustFail(t, cs, "upload_write", args{"upload_id": up.UploadID, "base64": base64.StdEncoding.EncodeToString(make([]byte, 20000))}, mcp.CodeInvalidArgument)
	must(t, cs, "upload_abort", args{"upload_id": up.UploadID}, nil)
	mustFail(t, cs, "upload_write", args{"upload_id": up.UploadID, "text": "more"}, mcp.CodeTransferUnknown)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	var list struct {
		Attachments []struct{ Name string } `json:"attachments"`
	}
	must(t, cs, "attachment_list", args{"key": "big"}, &list)
	if len(list.Attachments) != 1 {
		t.Fatalf("aborted upload left %+v", list)
	}
	mustFail(t, cs, "upload_begin", args{"target": "disk"}, mcp.CodeInvalidArgument)
}

// waitFor polls cond every 20ms for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
