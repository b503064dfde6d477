package mcp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/lockdhq/lockd/mcp"
)

func commit(t *testing.T, cs sessionLike, key string, doc any) {
	t.Helper()
	var l lease
	must(t, cs, "lock_acquire", args{"key": key}, &l)
	must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": doc}, nil)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
}

// query finds keys and documents by LQL and by JSON selector, in pages.
func TestQueryTool(t *testing.T) {
	e := newEnv(t, mcp.Config{}, mcp.HTTPOptions{})
	cs := e.connect(t)
	for i := range 5 {
		status := "open"
		if i%2 == 1 {
			status = "closed"
		}
		commit(t, cs, fmt.Sprintf("ticket-%d", i), args{"status": status, "n": i})
	}
	var q struct {
		Keys      []string `json:"keys"`
		Documents []struct {
			Key      string         `json:"key"`
			Document map[string]any `json:"document"`
		} `json:"documents"`
		Count  int    `json:"count"`
		Cursor string `json:"cursor"`
	}
	must(t, cs, "query", args{"lql": `/status="open"`, "refresh": "wait_for"}, &q)
	if q.Count != 3 || len(q.Keys) != 3 {
		t.Fatalf("open tickets %+v", q)
	}
	must(t, cs, "query", args{"selector": args{"eq": args{"field": "/status", "value": "closed"}}, "return": "documents", "refresh": "wait_for"}, &q)
	if len(q.Documents) != 2 || q.Documents[0].Document["status"] != "closed" {
		t.Fatalf("closed documents %+v", q)
	}
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		q.Keys, q.Cursor = nil, ""
		must(t, cs, "query", args{"limit": 2, "cursor": cursor, "refresh": "wait_for"}, &q)
		for _, k := range q.Keys {
			seen[k] = true
		}
		if cursor = q.Cursor; cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paging saw %v", seen)
	}
	mustFail(t, cs, "query", args{"lql": "/status=="}, "invalid_selector")
	mustFail(t, cs, "query", args{"return": "rows"}, mcp.CodeInvalidArgument)
}

// Attachments: put inline, list, get inline and as a stream, delete.
func TestAttachmentTools(t *testing.T) {
	e := newEnv(t, mcp.Config{InlineBytes: 1024}, mcp.HTTPOptions{})
	cs := e.connect(t)
	var l lease
	must(t, cs, "lock_acquire", args{"key": "doc"}, &l)
	var put struct {
		Attachment struct {
			Name   string `json:"name"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"attachment"`
		Staged bool `json:"staged"`
	}
	must(t, cs, "attachment_put", args{"lease_id": l.LeaseID, "name": "note.txt", "text": "hello"}, &put)
	if put.Attachment.Size != 5 || !put.Staged {
		t.Fatalf("put %+v", put)
	}
	big := make([]byte, 5000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(t, cs, "attachment_put", args{"lease_id": l.LeaseID, "name": "blob.bin", "base64": base64.StdEncoding.EncodeToString(big)}, nil)
	var list struct {
		Attachments []struct{ Name string } `json:"attachments"`
	}
	must(t, cs, "attachment_list", args{"lease_id": l.LeaseID}, &list)
	if len(list.Attachments) != 2 {
		t.Fatalf("lease list %+v", list)
	}
	must(t, cs, "attachment_list", args{"key": "doc"}, &list)
	if len(list.Attachments) != 0 {
		t.Fatalf("staged attachments visible before commit: %+v", list)
	}
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	must(t, cs, "attachment_list", args{"key": "doc"}, &list)
	if len(list.Attachments) != 2 {
		t.Fatalf("committed list %+v", list)
	}
	var got struct {
		Text     string `json:"text"`
		StreamID string `json:"stream_id"`
		Bytes    int64  `json:"bytes"`
	}
	must(t, cs, "attachment_get", args{"key": "doc", "name": "note.txt"}, &got)
	if got.Text != "hello" {
		t.Fatalf("inline get %+v", got)
	}
	must(t, cs, "attachment_get", args{"key": "doc", "name": "blob.bin"}, &got)
	if got.StreamID == "" || got.Bytes != 5000 {
		t.Fatalf("large attachment not streamed: %+v", got)
	}
	data, sum := readDownload(t, cs, got.StreamID, 1500)
	want := sha256.Sum256(big)
	if string(data) != string(big) || sum != hex.EncodeToString(want[:]) {
		t.Fatalf("download: %d bytes, sha %s", len(data), sum)
	}
	mustFail(t, cs, "download_read", args{"stream_id": got.StreamID}, mcp.CodeTransferUnknown)
	must(t, cs, "attachment_get", args{"key": "doc", "name": "note.txt", "stream": true}, &got)
	must(t, cs, "download_close", args{"stream_id": got.StreamID}, nil)
	mustFail(t, cs, "attachment_get", args{"key": "doc", "name": "nope"}, "attachment_not_found")

	must(t, cs, "lock_acquire", args{"key": "doc"}, &l)
	var del struct{ Deleted int }
	must(t, cs, "attachment_delete", args{"lease_id": l.LeaseID, "name": "note.txt"}, &del)
	if del.Deleted != 1 {
		t.Fatalf("delete %+v", del)
	}
	must(t, cs, "attachment_get", args{"lease_id": l.LeaseID, "name": "blob.bin", "stream": true}, &got)
	if data, _ := readDownload(t, cs, got.StreamID, 4096); len(data) != 5000 {
		t.Fatalf("lease download %d bytes", len(data))
	}
	must(t, cs, "attachment_delete", args{"lease_id": l.LeaseID, "all": true}, &del)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	must(t, cs, "attachment_list", args{"key": "doc"}, &list)
	if len(list.Attachments) != 0 {
		t.Fatalf("after delete all %+v", list)
	}
}

// readDownload reads a stream to its end in chunks of n bytes.
func readDownload(t *testing.T, cs sessionLike, id string, n int) ([]byte, string) {
	t.Helper()
	var out []byte
	for range 100000 {
		var ch struct {
			Offset int64  `json:"offset"`
			Base64 string `json:"base64"`
			EOF    bool   `json:"eof"`
			SHA256 string `json:"sha256"`
		}
		must(t, cs, "download_read", args{"stream_id": id, "max_bytes": n}, &ch)
		if ch.Offset != int64(len(out)) {
			t.Fatalf("chunk at offset %d, have %d bytes", ch.Offset, len(out))
		}
		b, err := base64.StdEncoding.DecodeString(ch.Base64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		if ch.EOF {
			return out, ch.SHA256
		}
	}
	t.Fatal("download never ended")
	return nil, ""
}
