package edge_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func (l lease) attach(name, body string, extra ...string) edgetest.Response {
	return l.s.Do("POST", l.path("attachments")+"&name="+name, body, l.headers(extra...)...)
}

func (l lease) attachmentList() []api.AttachmentInfo {
	r := l.s.Do("GET", l.path("attachments"), nil, l.headers()...)
	var list api.AttachmentListResponse
	r.JSON(l.s.T, &list)
	return list.Attachments
}

func publicAttachments(t *testing.T, s *edgetest.Server, key string) []string {
	t.Helper()
	r := s.Do("GET", "/v1/attachments?public=1&key="+key, nil)
	mustOK(t, r, "public list")
	var list api.AttachmentListResponse
	r.JSON(t, &list)
	var names []string
	for _, a := range list.Attachments {
		names = append(names, a.Name)
	}
	return names
}

func TestAttachmentsLifecycle(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "doc", "a")
		r := l.attach("invoice.pdf", "%PDF-1.7 hello", "Content-Type", "application/pdf")
		mustOK(t, r, "attach")
		var up api.AttachResponse
		r.JSON(t, &up)
		sum := sha256.Sum256([]byte("%PDF-1.7 hello"))
		if up.Attachment.Size != 14 || up.Attachment.ContentType != "application/pdf" || up.Attachment.PlaintextSHA256 != hex.EncodeToString(sum[:]) || len(up.Attachment.ID) != 36 || r.Header.Get(api.HeaderAttachmentID) != up.Attachment.ID {
			t.Fatalf("attach response %+v", up)
		}
		mustOK(t, l.attach("notes.txt", "n1"), "attach 2")
		if got := l.attachmentList(); len(got) != 2 || got[0].Name != "invoice.pdf" {
			t.Fatalf("holder list %+v", got)
		}
		if got := publicAttachments(t, s, "doc"); len(got) != 0 {
			t.Fatalf("staged attachments public: %v", got)
		}
		g := s.Do("GET", l.path("attachment")+"&name=notes.txt", nil, l.headers()...)
		if g.Status != 200 || string(g.Body) != "n1" {
			t.Fatalf("holder get %d %s", g.Status, g.Body)
		}
		mustOK(t, l.release(false), "release")
		if got := publicAttachments(t, s, "doc"); strings.Join(got, ",") != "invoice.pdf,notes.txt" {
			t.Fatalf("public list after commit %v", got)
		}
		g = s.Do("GET", "/v1/attachment?public=1&key=doc&id="+up.Attachment.ID, nil)
		if g.Status != 200 || string(g.Body) != "%PDF-1.7 hello" || g.Header.Get("Content-Type") != "application/pdf" ||
			g.Header.Get(api.HeaderAttachmentSize) != "14" || g.Header.Get(api.HeaderAttachmentName) != "invoice.pdf" {
			t.Fatalf("public get by id %d %s %v", g.Status, g.Body, g.Header)
		}
		// Replace one, delete one, roll back: nothing changes publicly.
		l = acquire(t, s, "doc", "b")
		mustOK(t, l.attach("notes.txt", "n2"), "replace")
		r = s.Do("DELETE", l.path("attachment")+"&name=invoice.pdf", nil, l.headers()...)
		var del api.DeleteAttachmentResponse
		r.JSON(t, &del)
		if !del.Deleted {
			t.Fatalf("delete %s", r.Body)
		}
		mustOK(t, l.release(true), "rollback")
		g = s.Do("GET", "/v1/attachment?public=1&key=doc&name=notes.txt", nil)
		if string(g.Body) != "n1" || len(publicAttachments(t, s, "doc")) != 2 {
			t.Fatalf("rollback leaked staged attachment changes: %s", g.Body)
		}
		// Replace and delete-all, commit.
		l = acquire(t, s, "doc", "c")
		mustOK(t, l.attach("notes.txt", "n3"), "replace")
		mustOK(t, l.release(false), "commit replace")
		g = s.Do("GET", "/v1/attachment?public=1&key=doc&name=notes.txt", nil)
		if string(g.Body) != "n3" {
			t.Fatalf("replaced attachment reads %q", g.Body)
		}
		l = acquire(t, s, "doc", "d")
		r = s.Do("DELETE", l.path("attachments"), nil, l.headers()...)
		var all api.DeleteAllAttachmentsResponse
		r.JSON(t, &all)
		if all.Deleted != 2 || len(l.attachmentList()) != 0 {
			t.Fatalf("delete all %s", r.Body)
		}
		mustOK(t, l.release(false), "commit delete all")
		if got := publicAttachments(t, s, "doc"); len(got) != 0 {
			t.Fatalf("after delete-all commit %v", got)
		}
		wantError(t, s.Do("GET", "/v1/attachment?public=1&key=doc&name=notes.txt", nil), 404, api.CodeAttachmentNotFound)
	})
}

func TestAttachmentRules(t *testing.T) {
	each(t, server.Config{AttachmentMax: 1000}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "rules", "a")
		mustOK(t, l.attach("a.bin", "first"), "attach")
		r := l.s.Do("POST", l.path("attachments")+"&name=a.bin&prevent_overwrite=1", "second", l.headers()...)
		var up api.AttachResponse
		r.JSON(t, &up)
		if !up.Noop {
			t.Fatalf("prevent_overwrite replaced: %s", r.Body)
		}
		good := sha256.Sum256([]byte("xyz"))
		mustOK(t, l.attach("c.bin", "xyz", api.HeaderExpectedSHA256, hex.EncodeToString(good[:]), api.HeaderExpectedBytes, "3"), "expected ok")
		wantError(t, l.attach("d.bin", "xyz", api.HeaderExpectedSHA256, strings.Repeat("ab", 32)), 409, api.CodeExpectedSHAMismatch)
		wantError(t, l.attach("d.bin", "xyz", api.HeaderExpectedBytes, "4"), 409, api.CodeExpectedLenMismatch)
		wantError(t, l.attach("d.bin", strings.Repeat("z", 1001)), 413, api.CodeAttachmentTooLarge)
		wantError(t, l.s.Do("POST", l.path("attachments")+"&name=d.bin&max_bytes=10", strings.Repeat("z", 11), l.headers()...), 413, api.CodeAttachmentTooLarge)
		wantError(t, l.s.Do("POST", l.path("attachments")+"&name=d.bin&max_bytes=x", "z", l.headers()...), 400, api.CodeInvalidMaxBytes)
		wantError(t, l.s.Do("POST", l.path("attachments"), "z", l.headers()...), 400, api.CodeMissingAttachment)
		wantError(t, l.attach("bad%2Fname", "z"), 400, api.CodeInvalidAttachmentName)
		wrong := l
		wrong.FencingToken = 42
		wantError(t, wrong.attach("e.bin", "z"), 403, api.CodeFencingMismatch)
		wantError(t, s.Do("POST", "/v1/attachments?key=rules&name=x", "z"), 400, api.CodeMissingLease)
		wantError(t, s.Do("PUT", "/v1/attachments?key=rules&name=x", "z"), 405, api.CodeMethodNotAllowed)
		wantError(t, s.Do("GET", "/v1/attachment?key=rules&public=1", nil), 400, api.CodeMissingAttachment)
		var names []string
		for _, a := range l.attachmentList() {
			names = append(names, a.Name)
		}
		if strings.Join(names, ",") != "a.bin,c.bin" {
			t.Fatalf("failed uploads left attachments: %v", names)
		}
		g := s.Do("GET", l.path("attachment")+"&name=a.bin", nil, l.headers()...)
		if string(g.Body) != "first" {
			t.Fatalf("noop upload replaced content: %q", g.Body)
		}
	})
}

// A client that dies mid-upload leaves no attachment and no blob.
func TestTruncatedUploadLeavesNothing(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "trunc", "a")
		conn, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s&name=big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n", l.path("attachments"))
		h := l.headers()
		for i := 0; i < len(h); i += 2 {
			fmt.Fprintf(conn, "%s: %s\r\n", h[i], h[i+1])
		}
		fmt.Fprint(conn, "\r\n"+strings.Repeat("x", 50000))
		conn.Close()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if len(l.attachmentList()) != 0 {
				t.Fatal("truncated upload became an attachment")
			}
			time.Sleep(50 * time.Millisecond)
		}
		mustOK(t, l.attach("ok.bin", "fine"), "attach after truncated upload")
	})
}

// A large upload streams to the store: the server's heap stays far below
// the attachment's size, and the bytes read back intact.
func TestLargeAttachmentStreams(t *testing.T) {
	const size = 256 << 20
	s := edgetest.Start(t, edgetest.Disk, server.Config{})
	l := acquire(t, s, "large", "a")
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // sample the heap while the upload runs
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	req, _ := http.NewRequest("POST", s.URL()+l.path("attachments")+"&name=big.bin", io.LimitReader(zeros{}, size))
	req.ContentLength = size
	h := l.headers()
	for i := 0; i < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(stop)
	<-done
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	if peak > 64<<20 {
		t.Fatalf("heap reached %d MiB during a %d MiB upload", peak>>20, size>>20)
	}
	mustOK(t, l.release(false), "release")
	get, err := s.Client.Get(s.URL() + "/v1/attachment?public=1&key=large&name=big.bin")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, bufio.NewReader(get.Body))
	get.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download %d bytes, %v", n, err)
	}
	t.Logf("peak heap during %d MiB upload: %d MiB", size>>20, peak>>20)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
