package lockdtest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/lockdtest"
	"github.com/lockdhq/lockd/sdk/api"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A test server serves the SDK and raw HTTP, and stops with the test.
func TestTestServerServesSDKAndHTTP(t *testing.T) {
	ts := lockdtest.NewTestServer(t)
	ctx := ctxT(t, 20*time.Second)
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "t", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]int{"n": 7}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := ts.NewHTTPClient().Get(ts.URL() + "/v1/get?key=k&public=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"n":7`) {
		t.Fatalf("public get: %d %s", resp.StatusCode, body)
	}
}

// WithMTLS: the clients the test server makes carry a client certificate
// of its fresh CA; a client without one is refused.
func TestTestServerMTLS(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithMTLS())
	if !strings.HasPrefix(ts.URL(), "https://") || len(ts.ClientBundle()) == 0 {
		t.Fatalf("url %s, bundle %d bytes", ts.URL(), len(ts.ClientBundle()))
	}
	ctx := ctxT(t, 20*time.Second)
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "t", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	sess.Release(ctx)
	resp, err := ts.NewHTTPClient().Get(ts.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over mTLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get(ts.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without certificate got an answer")
	}
}

// Latency: every chunk waits MinDelay..MaxDelay, so a request and its
// answer take at least two delays; the answer is intact.
func TestChaosLatency(t *testing.T) {
	const d = 150 * time.Millisecond
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{MinDelay: d, MaxDelay: d, Seed: 1}))
	ctx := ctxT(t, 20*time.Second)
	start := time.Now()
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "slow", Owner: "t", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*d {
		t.Fatalf("acquire through a %v proxy took %v", d, took)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// Drops: with every chunk dropped nothing gets through (the client times
// out), while the node itself is fine.
func TestChaosDrop(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{DropProbability: 1}), lockdtest.WithoutClient())
	hc := ts.NewHTTPClient()
	hc.Timeout = 500 * time.Millisecond
	if resp, err := hc.Get(ts.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a request got through a proxy dropping everything: %d", resp.StatusCode)
	}
	resp, err := hc.Get(ts.DirectURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Resets: a connection reset on its first chunk fails the request.
func TestChaosReset(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{ResetProbability: 1}), lockdtest.WithoutClient())
	hc := ts.NewHTTPClient()
	hc.Timeout = 5 * time.Second
	if resp, err := hc.Get(ts.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a request got through a proxy resetting everything")
	}
}

// A forced disconnect cuts a blocked acquire once (MaxDisconnects 1); the
// SDK retries on a new connection, which is left alone, and gets the
// lease when its holder releases it.
func TestChaosDisconnectSDKRetries(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{
		DisconnectAfter: 300 * time.Millisecond, MaxDisconnects: 1}))
	ctx := ctxT(t, 30*time.Second)
	direct := ts.NewEndpointsClient([]string{ts.DirectURL()})
	held, err := direct.Acquire(ctx, api.AcquireRequest{Key: "cut", Owner: "holder", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "cut", Owner: "waiter", TTLSeconds: 30, BlockSeconds: 20})
		if err == nil {
			err = sess.Release(ctx)
		}
		got <- err
	}()
	// Release once the proxy has cut the waiter's first connection.
	for ts.Proxy.Disconnects() == 0 {
		select {
		case err := <-got:
			t.Fatalf("acquire ended before the disconnect: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("acquire across a forced disconnect: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("acquire did not finish")
	}
	if n := ts.Proxy.Disconnects(); n != 1 {
		t.Fatalf("disconnects = %d, want 1", n)
	}
}

// A forced disconnect, seen over raw HTTP: the blocked request fails
// instead of answering.
func TestChaosDisconnectHTTP(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{
		DisconnectAfter: 200 * time.Millisecond, MaxDisconnects: 1}))
	ctx := ctxT(t, 30*time.Second)
	direct := ts.NewEndpointsClient([]string{ts.DirectURL()})
	held, err := direct.Acquire(ctx, api.AcquireRequest{Key: "raw", Owner: "holder", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	hc := ts.NewHTTPClient()
	hc.Timeout = 15 * time.Second
	resp, err := hc.Post(ts.URL()+"/v1/acquire", "application/json",
		strings.NewReader(`{"key":"raw","owner":"w","ttl_seconds":30,"block_seconds":10}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("blocked acquire answered %d across a forced disconnect", resp.StatusCode)
	}
	resp, err = hc.Get(ts.URL() + "/healthz")
	if err != nil {
		t.Fatalf("second connection (no more disconnects): %v", err)
	}
	resp.Body.Close()
}

// Bandwidth: 64 KiB through a 32 KiB/s proxy takes at least a second
// (the bucket starts with one 32 KiB chunk) and arrives intact.
func TestChaosBandwidth(t *testing.T) {
	ts := lockdtest.NewTestServer(t, lockdtest.WithChaos(&lockdtest.ChaosConfig{BandwidthBytesPerSecond: 32 << 10}))
	ctx := ctxT(t, 30*time.Second)
	doc := []byte(`{"blob":"` + strings.Repeat("x", 64<<10) + `"}`)
	sess, err := ts.Client.Acquire(ctx, api.AcquireRequest{Key: "bw", Owner: "t", TTLSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := sess.UpdateBytes(ctx, doc); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("64 KiB through a 32 KiB/s proxy took %v", took)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := ts.NewEndpointsClient([]string{ts.DirectURL()}).Get(ctx, "bw")
	if err != nil {
		t.Fatal(err)
	}
	b, err := got.Bytes()
	if err != nil || !bytes.Equal(b, doc) {
		t.Fatalf("document through the throttled proxy: %d bytes, %v", len(b), err)
	}
}
