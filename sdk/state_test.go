package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestStateStreamingCASRemoveMetadata(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "big", Owner: "w", TTLSeconds: 20})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		// A 4 MiB document streams through Update and Get.
		doc := `{"items":"` + strings.Repeat("a", 4<<20) + `"}`
		up, err := sess.Update(ctx, strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if up.NewVersion != 1 || up.Bytes != int64(len(doc)) {
			t.Fatalf("update = %+v", up)
		}
		g, err := sess.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(g)
		g.Close()
		if err != nil || string(got) != doc || g.ETag != up.NewStateETag {
			t.Fatalf("get: %v len=%d etag=%q want %q", err, len(got), g.ETag, up.NewStateETag)
		}
		// CAS on the committed version (0: nothing committed yet).
		if _, err := sess.UpdateBytes(ctx, []byte(`{"n":1}`), sdk.IfVersion(7)); !errors.Is(err, sdk.ErrVersionConflict) {
			t.Fatalf("stale IfVersion: %v", err)
		}
		var ae *sdk.APIError
		if _, err := sess.UpdateBytes(ctx, []byte(`{"n":`)); !errors.As(err, &ae) || ae.Status != 400 || ae.Code != api.CodeInvalidBody {
			t.Fatalf("bad json: %v", err)
		}
		md, err := sess.UpdateMetadata(ctx, api.MetadataMutation{QueryHidden: sdk.Ptr(true)})
		if err != nil || !md.Metadata.QueryHidden {
			t.Fatalf("metadata: %v %+v", err, md)
		}
		rm, err := sess.Remove(ctx)
		if err != nil || !rm.Removed {
			t.Fatalf("remove: %v %+v", err, rm)
		}
		var v map[string]any
		if err := sess.Load(ctx, &v); err != nil || v != nil {
			t.Fatalf("load after remove: %v %v", err, v)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := c.Describe(ctx, "big")
		if err != nil || d.LeaseID != "" || !d.Metadata.QueryHidden {
			t.Fatalf("describe: %v %+v", err, d)
		}
		pg, err := c.Get(ctx, "big")
		if err != nil || pg.HasState {
			t.Fatalf("public get after remove: %v %+v", err, pg)
		}
		pg.Close()
	})
}

func TestAcquireModes(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	a, err := c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "a", TTLSeconds: 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(ctx, map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "b", BlockSeconds: sdk.BlockNoWait})
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrWaiting) || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Fatalf("no-wait on a held key: %v", err)
	}
	// A waiting acquirer gets the lease as soon as the holder releases.
	got := make(chan *sdk.LeaseSession, 1)
	go func() {
		b, err := c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "b", TTLSeconds: 20}) // BlockWaitForever
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if b == nil || b.FencingToken != a.FencingToken+1 || b.Version != 1 {
		t.Fatalf("waiter's grant: %+v", b)
	}
	b.Close()
	// Create-only acquire of an existing key is final.
	_, err = c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "c", IfNotExists: true, BlockSeconds: sdk.BlockNoWait})
	if !errors.Is(err, sdk.ErrAlreadyExists) || !sdk.IsAlreadyExists(err) {
		t.Fatalf("if_not_exists: %v", err)
	}
	// A deadline bounds a wait-forever acquire.
	h, err := c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "h", TTLSeconds: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// It asks the server to hold it only for what is left of the
	// deadline: the acquires it sends (seen on the wire) wait at least
	// once, and their waits together never exceed the deadline — no
	// elapsed time is measured.
	rec := &acquireRecorder{next: http.DefaultTransport}
	late := newClient(t, ts.Endpoint, sdk.WithHTTPClient(&http.Client{Transport: rec}))
	const bound = 3500 * time.Millisecond
	dctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	_, err = late.Acquire(dctx, api.AcquireRequest{Key: "k", Owner: "late"})
	if !errors.Is(err, sdk.ErrWaiting) {
		t.Fatalf("bounded wait: %v", err)
	}
	sent := rec.sent()
	var waited, total int64
	for _, a := range sent {
		if a.block > 0 {
			total += a.block
			if a.status == http.StatusConflict {
				waited++
			}
		}
		if a.status != http.StatusConflict {
			t.Fatalf("acquire of a held key answered %d: %+v", a.status, sent)
		}
	}
	if waited == 0 || time.Duration(total)*time.Second > bound || sent[len(sent)-1].block > 0 && dctx.Err() == nil {
		t.Fatalf("wait-forever acquire under a %s deadline sent %+v", bound, sent)
	}
	// A server-generated key.
	g, err := c.Acquire(ctx, api.AcquireRequest{Owner: "gen", BlockSeconds: sdk.BlockNoWait})
	if err != nil || g.Key == "" {
		t.Fatalf("generated key: %v", err)
	}
	g.Close()
}

func TestRollbackDiscardsAndKeepAlive(t *testing.T) {
	// The server runs on a fake clock: a keepalive that comes late on a
	// loaded machine cannot lose the lease, and the test does not sleep.
	clk := clock.NewFake(time.Now())
	ts := startServer(t, "unix", server.Config{Clock: clk})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "ttl", Owner: "a", TTLSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	// The background keepalive (every TTL/2) holds the lease past its TTL:
	// 1.5 s in, wait for it to renew, then go past the first expiry.
	first := sess.ExpiresAt()
	clk.Advance(1500 * time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for !sess.ExpiresAt().After(first) {
		if time.Now().After(deadline) || sess.Err() != nil {
			t.Fatalf("no background keepalive within 30s: %v", sess.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	clk.Advance(1500 * time.Millisecond)
	if _, err := c.Acquire(ctx, api.AcquireRequest{Key: "ttl", Owner: "b", BlockSeconds: sdk.BlockNoWait}); !errors.Is(err, sdk.ErrWaiting) {
		t.Fatalf("lease should still be held: %v", err)
	}
	if sess.Err() != nil {
		t.Fatalf("session: err %v", sess.Err())
	}
	exp, err := sess.KeepAlive(ctx, 10*time.Second)
	if err != nil || exp.Sub(clk.Now()) < 8*time.Second {
		t.Fatalf("keepalive: %v %s", err, exp)
	}
	if err := sess.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sess.Done():
	default:
		t.Fatal("Done not closed after rollback")
	}
	g, err := c.Get(ctx, "ttl")
	if err != nil || g.HasState {
		t.Fatalf("rolled back state visible: %v %+v", err, g)
	}
	g.Close()
}

func TestResumeLeaseFromAnotherClient(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	a := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	sess, err := a.Acquire(ctx, api.AcquireRequest{Key: "handoff", Owner: "a", TTLSeconds: 20}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.Endpoint)
	b.RegisterLeaseToken(sess.LeaseID, sess.FencingToken)
	r := b.Resume(sdk.LeaseRef{Key: "handoff", LeaseID: sess.LeaseID, TxnID: sess.TxnID})
	if err := r.Save(ctx, map[string]string{"by": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	g, err := a.Get(ctx, "handoff")
	if err != nil || g.Decode(&v) != nil || v["by"] != "b" {
		t.Fatalf("resumed write: %v %v", err, v)
	}
	// A stale fencing token is refused.
	stale := b.Resume(sdk.LeaseRef{Key: "handoff", LeaseID: sess.LeaseID, TxnID: sess.TxnID, FencingToken: sess.FencingToken})
	if _, err := stale.KeepAlive(ctx, 0); !errors.Is(err, sdk.ErrLeaseRequired) && !errors.Is(err, sdk.ErrFencingMismatch) && !errors.Is(err, sdk.ErrLeaseExpired) {
		t.Fatalf("keepalive of a released lease: %v", err)
	}
}

func TestAttachments(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "docs", Owner: "w", TTLSeconds: 20})
		if err != nil {
			t.Fatal(err)
		}
		blob := bytes.Repeat([]byte{0, 1, 2, 3}, 1<<18)
		res, err := sess.Attach(ctx, sdk.AttachRequest{Name: "blob.bin", Body: bytes.NewReader(blob), Size: int64(len(blob))})
		if err != nil || res.Attachment.Size != int64(len(blob)) || res.Attachment.ID == "" {
			t.Fatalf("attach: %v %+v", err, res)
		}
		if _, err := sess.Attach(ctx, sdk.AttachRequest{Name: "note.txt", ContentType: "text/plain", Body: strings.NewReader("hi")}); err != nil {
			t.Fatal(err)
		}
		noop, err := sess.Attach(ctx, sdk.AttachRequest{Name: "note.txt", Body: strings.NewReader("other"), PreventOverwrite: true})
		if err != nil || !noop.Noop {
			t.Fatalf("prevent overwrite: %v %+v", err, noop)
		}
		list, err := sess.ListAttachments(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %v %+v", err, list)
		}
		a, err := sess.RetrieveAttachment(ctx, sdk.AttachmentSelector{Name: "blob.bin"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(a)
		a.Close()
		if !bytes.Equal(got, blob) || a.Size != int64(len(blob)) || a.ContentType != "application/octet-stream" {
			t.Fatalf("retrieve: %d bytes, %+v", len(got), a.AttachmentInfo)
		}
		if d, err := sess.DeleteAttachment(ctx, sdk.AttachmentSelector{ID: res.Attachment.ID}); err != nil || !d.Deleted {
			t.Fatalf("delete: %v %+v", err, d)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
		pub, err := c.ListAttachments(ctx, "docs")
		if err != nil || len(pub) != 1 || pub[0].Name != "note.txt" {
			t.Fatalf("public list: %v %+v", err, pub)
		}
		g, err := c.Get(ctx, "docs")
		if err != nil {
			t.Fatal(err)
		}
		note, err := g.RetrieveAttachment(ctx, sdk.AttachmentSelector{Name: "note.txt"})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(note)
		note.Close()
		g.Close()
		if string(body) != "hi" || note.ContentType != "text/plain" {
			t.Fatalf("public retrieve: %q %+v", body, note.AttachmentInfo)
		}
		if _, err := c.RetrieveAttachment(ctx, "docs", sdk.AttachmentSelector{Name: "nope"}); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("missing attachment: %v", err)
		}
		s2, err := c.Acquire(ctx, api.AcquireRequest{Key: "docs", Owner: "w", TTLSeconds: 20})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s2.DeleteAllAttachments(ctx); err != nil || n.Deleted != 1 {
			t.Fatalf("delete all: %v %+v", err, n)
		}
		s2.Close()
		if pub, err := c.ListAttachments(ctx, "docs"); err != nil || len(pub) != 0 {
			t.Fatalf("after delete all: %v %+v", err, pub)
		}
	})
}

// acquireRecorder records the block_seconds of each /v1/acquire a client
// sends and the status it got.
type acquireRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []sentAcquire
}

type sentAcquire struct {
	block  int64
	status int
}

func (r *acquireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/v1/acquire" || req.Body == nil {
		return r.next.RoundTrip(req)
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	var body api.AcquireRequest
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.reqs = append(r.reqs, sentAcquire{block: body.BlockSeconds, status: resp.StatusCode})
		r.mu.Unlock()
	}
	return resp, err
}

func (r *acquireRecorder) sent() []sentAcquire {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentAcquire(nil), r.reqs...)
}
