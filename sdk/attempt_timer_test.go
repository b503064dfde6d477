package sdk_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// A streamed body fed more slowly than the HTTP timeout is not cut off:
// the timeout bounds the wait for the answer once the body is sent.
func TestSlowStreamedBodyIsNotCutOff(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint, sdk.WithHTTPTimeout(300*time.Millisecond))
	ctx := testCtx(t)
	s, err := c.Acquire(ctx, api.AcquireRequest{Key: "slow", Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		for i := range 8 {
			pw.Write([]byte(strings.Repeat("x", 1000) + string(rune('a'+i))))
			time.Sleep(100 * time.Millisecond) // the source's pace, not a wait for a condition
		}
		pw.Close()
	}()
	start := time.Now()
	res, err := s.Attach(ctx, sdk.AttachRequest{Name: "slow.bin", Body: pr})
	if err != nil {
		t.Fatalf("slow upload cut off after %s: %v", time.Since(start), err)
	}
	if res.Attachment.Size != 8008 {
		t.Fatalf("attached %d bytes", res.Attachment.Size)
	}
}

// A server that takes the whole streamed body and never answers is still
// bounded by the timeout.
func TestStreamedBodyThenSilenceTimesOut(t *testing.T) {
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stall.Close()
	defer close(release)
	c := newClient(t, stall.URL, sdk.WithHTTPTimeout(200*time.Millisecond), sdk.WithRetries(0))
	s := c.Resume(sdk.LeaseRef{Key: "k", LeaseID: "l", TxnID: "t", FencingToken: 1})
	start := time.Now()
	_, err := s.Update(testCtx(t), io.MultiReader(strings.NewReader(`{"a":1}`)))
	if err == nil || time.Since(start) > 5*time.Second || !strings.Contains(err.Error(), "within") {
		t.Fatalf("silent server after the body: %v after %s", err, time.Since(start))
	}
}
