package sdk_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/lockdtest"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// WithCorrelationHTTPClient: a plain net/http client sends the id on
// every request and the server echoes it.
func TestCorrelationHTTPClient(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithoutClient())
	hc := sdk.WithCorrelationHTTPClient(ts.NewHTTPClient(), "corr-embed-1")
	for _, path := range []string{"/healthz", "/v1/describe?key=nobody"} {
		resp, err := hc.Get(ts.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := sdk.CorrelationIDFromResponse(resp); got != "corr-embed-1" {
			t.Fatalf("%s: correlation id %q", path, got)
		}
	}
	resp, err := hc.Post(ts.URL()+"/v1/acquire", "application/json",
		strings.NewReader(`{"key":"c","owner":"o","ttl_seconds":30}`))
	if err != nil {
		t.Fatal(err)
	}
	var grant api.AcquireResponse
	json.NewDecoder(resp.Body).Decode(&grant)
	resp.Body.Close()
	if grant.CorrelationID != "corr-embed-1" {
		t.Fatalf("acquire correlation_id %q", grant.CorrelationID)
	}
	// An invalid id leaves requests alone: the server mints one.
	bad := sdk.WithCorrelationHTTPClient(nil, "bad\x01id")
	resp, err = bad.Get(ts.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := sdk.CorrelationIDFromResponse(resp); got == "" || got == "bad\x01id" {
		t.Fatalf("invalid id: server answered %q", got)
	}
	if sdk.WithCorrelationTransport(nil, "x") == nil {
		t.Fatal("no RoundTripper")
	}
}

// Client.UpdateMetadata hides a key from queries through a lease the
// caller only knows by reference; it applies on release.
func TestClientUpdateMetadata(t *testing.T) {
	ts := lockdtest.NewTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "meta", Owner: "o", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]string{"kind": "meta"}); err != nil {
		t.Fatal(err)
	}
	other := ts.NewClient()
	out, err := other.UpdateMetadata(ctx, sess.Ref(), api.MetadataMutation{QueryHidden: sdk.Ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Metadata.QueryHidden {
		t.Fatalf("metadata response %+v", out)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := ts.Client.Describe(ctx, "meta")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Metadata.QueryHidden {
		t.Fatalf("describe after release: %+v", d.Metadata)
	}
}

// EnsureStateExists creates the workflow state of a stateful delivery
// once; a nack commits it, so the next delivery finds it.
func TestQueueEnsureStateExists(t *testing.T) {
	ts := lockdtest.NewTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ts.Client.Enqueue(ctx, "jobs", strings.NewReader("x"), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := ts.Client.DequeueWithState(ctx, "jobs", sdk.DequeueOptions{Owner: "w", BlockSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	if m.State().ETag != "" {
		t.Fatalf("fresh message has state %q", m.State().ETag)
	}
	etag, err := m.EnsureStateExists(ctx)
	if err != nil || etag == "" {
		t.Fatalf("ensure: %q %v", etag, err)
	}
	if again, err := m.EnsureStateExists(ctx); err != nil || again != etag {
		t.Fatalf("second ensure: %q %v, want %q", again, err, etag)
	}
	if err := m.Nack(ctx, sdk.NackOptions{}); err != nil {
		t.Fatal(err)
	}
	m2, err := ts.Client.DequeueWithState(ctx, "jobs", sdk.DequeueOptions{Owner: "w", BlockSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := m2.State().Load(ctx, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "queue_state" || doc["queue"] != "jobs" || doc["message_id"] != m2.ID() {
		t.Fatalf("state document %v", doc)
	}
	if err := m2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// Document helpers: mutate locally, save through a lease, read back.
func TestDocumentHelpers(t *testing.T) {
	ts := lockdtest.NewTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	doc := sdk.NewDocument("default", "doc")
	if err := doc.Mutate(`/status="open"`, "/count++", "/count++"); err != nil {
		t.Fatal(err)
	}
	if err := doc.Mutate("/count/x/y=1"); err == nil {
		t.Fatal("mutating through a number succeeded")
	}
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "doc", Owner: "o", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	r, err := doc.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := ts.Client.Get(ctx, "doc")
	if err != nil {
		t.Fatal(err)
	}
	back := sdk.NewDocument("default", "doc")
	if _, err := io.Copy(back, got); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Status string
		Count  int
	}
	if err := back.LoadInto(&v); err != nil || v.Status != "open" || v.Count != 2 {
		t.Fatalf("read back %+v %v", v, err)
	}
}
