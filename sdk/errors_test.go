package sdk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// A stale delivery (the message was requeued and delivered again) is
// queue_message_lease_mismatch: ErrQueueLeaseMismatch, and the stale
// QueueMessage stays settled, as nothing can settle it any more.
func TestQueueLeaseMismatchIsTyped(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "jobs", strings.NewReader("x"), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	stale, err := c.Dequeue(ctx, "jobs", sdk.DequeueOptions{Owner: "a", BlockSeconds: sdk.BlockNoWait})
	if err != nil {
		t.Fatal(err)
	}
	meta := stale.Meta()
	// Requeue the delivery behind the QueueMessage's back.
	if _, err := c.QueueNack(ctx, api.NackRequest{Queue: meta.Queue, MessageID: meta.MessageID, LeaseID: meta.LeaseID,
		FencingToken: meta.FencingToken, MetaETag: meta.MetaETag, TxnID: meta.TxnID, Intent: api.NackIntentDefer}); err != nil {
		t.Fatal(err)
	}
	current, err := c.Dequeue(ctx, "jobs", sdk.DequeueOptions{Owner: "b", BlockSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	// In this order: a refused ack settles the QueueMessage locally, after
	// which an extend would not reach the server.
	for _, step := range []struct {
		what string
		call func() error
	}{
		{"extend", func() error { return stale.Extend(ctx, time.Minute) }},
		{"ack", func() error { return stale.Ack(ctx) }},
	} {
		what, err := step.what, step.call()
		var ae *sdk.APIError
		if !errors.Is(err, sdk.ErrQueueLeaseMismatch) || !errors.As(err, &ae) || ae.Status != 409 || ae.Code != api.CodeQueueLeaseMismatch {
			t.Fatalf("%s of a stale delivery: %v", what, err)
		}
	}
	if err := stale.Nack(ctx, sdk.NackOptions{}); !errors.Is(err, sdk.ErrMessageSettled) {
		t.Fatalf("a stale delivery must stay settled: %v", err)
	}
	if err := current.Ack(ctx); err != nil {
		t.Fatalf("ack of the current delivery: %v", err)
	}
	// A nack intent that is neither failure nor defer.
	_, err = c.QueueNack(ctx, api.NackRequest{Queue: "jobs", MessageID: meta.MessageID, LeaseID: meta.LeaseID,
		MetaETag: meta.MetaETag, Intent: "later"})
	if sdk.ErrorCode(err) != api.CodeInvalidNackIntent {
		t.Fatalf("bad intent: %v", err)
	}
}

// A state over --json-max is 413 document_too_large: ErrTooLarge.
func TestDocumentTooLargeIsTyped(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{JSONMax: 64})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "big", Owner: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	_, err = sess.UpdateBytes(ctx, []byte(`"`+strings.Repeat("x", 100)+`"`))
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrTooLarge) || !errors.As(err, &ae) || ae.Status != 413 || ae.Code != api.CodeDocumentTooLarge {
		t.Fatalf("oversized state: %v", err)
	}
}

// countingProxy forwards to target and counts the requests to path.
func countingProxy(t *testing.T, target, path string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A corrupt stored record is a 500 that the client never retries (a
// retry cannot help), while other keys keep working.
func TestCorruptRecordIsNotRetried(t *testing.T) {
	st := mem.New()
	if _, err := st.Put(context.Background(), keyspace.RecordKey(keyspace.Ref{Namespace: "default", Key: "broken"}),
		[]byte{0xB1, 0xFF, 0xFF}, store.Cond{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.StartOn(ln, st, server.Config{})
	t.Cleanup(func() { (&testServer{Server: srv}).stop() })
	proxy, n := countingProxy(t, "http://"+ln.Addr().String(), "/v1/describe")
	c := newClient(t, proxy.URL, sdk.WithRetries(5))
	ctx := testCtx(t)
	_, err = c.Describe(ctx, "broken")
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Code != api.CodeInternal || !strings.Contains(ae.Detail, "corrupt") {
		t.Fatalf("describe of a corrupt record: %v", err)
	}
	if errors.Is(err, sdk.ErrUnavailable) {
		t.Fatal("a corrupt record must not look transient")
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("the client sent %d requests for a corrupt record, want 1 (no retries)", got)
	}
	if _, err := c.Describe(ctx, "fine"); err != nil {
		t.Fatalf("another key: %v", err)
	}
}
