package sdk_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// throttleWatch is a transport that reports each 429 it carries.
type throttleWatch struct {
	next http.RoundTripper
	seen chan *http.Response
}

func (w *throttleWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		select {
		case w.seen <- resp:
		default:
		}
	}
	return resp, err
}

// qrfServer serves with admission control driven by forced samples only.
func qrfServer(t *testing.T) *testServer {
	return startServer(t, "tcp", server.Config{Admission: admission.Config{Enabled: true,
		LockHardLimit: 1000, RecoverySamples: 1, MaxWait: time.Millisecond, SampleInterval: time.Hour}})
}

var engageLocks = admission.Snapshot{Inflight: admission.Inflight{Lock: 1000}}

// The SDK meets a server whose QRF is engaged: it gets 429 throttled with
// Retry-After, backs off, and gets through once the QRF disengages.
func TestSDKRetriesThrottlingUntilQRFDisengages(t *testing.T) {
	ts := qrfServer(t)
	ts.ForceQRFObserve(engageLocks)
	watch := &throttleWatch{next: http.DefaultTransport, seen: make(chan *http.Response, 1)}
	c := newClient(t, ts.Endpoint, sdk.WithHTTPClient(&http.Client{Transport: watch}), sdk.WithRetries(20))
	ctx := testCtx(t)
	start := time.Now()
	type result struct {
		s   *sdk.LeaseSession
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := c.Acquire(ctx, api.AcquireRequest{Key: "qrf", Owner: "w", TTLSeconds: 10})
		done <- result{s, err}
	}()
	select {
	case resp := <-watch.seen:
		if resp.Header.Get("Retry-After") != "1" || resp.Header.Get(api.HeaderQRFState) != "engaged" {
			t.Fatalf("429 headers: %v", resp.Header)
		}
	case r := <-done:
		t.Fatalf("acquire finished while engaged: %v", r.err)
	case <-ctx.Done():
		t.Fatal("no 429 while engaged")
	}
	// Recovery (still pacing lock work), then disengaged.
	ts.ForceQRFObserve(admission.Snapshot{})
	ts.ForceQRFObserve(admission.Snapshot{})
	if st := ts.QRFStatus().State; st != admission.Disengaged {
		t.Fatalf("QRF state %s", st)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("acquire after disengage: %v", r.err)
	}
	defer r.s.Close()
	if el := time.Since(start); el < time.Second {
		t.Fatalf("the client retried after %v, before Retry-After: 1", el)
	}
}

// Without retries, the 429 surfaces with its hint and posture.
func TestSDKThrottledError(t *testing.T) {
	ts := qrfServer(t)
	ts.ForceQRFObserve(engageLocks)
	c := newClient(t, ts.Endpoint, sdk.WithRetries(0))
	_, err := c.Acquire(testCtx(t), api.AcquireRequest{Key: "qrf", Owner: "w"})
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrThrottled) || !errors.As(err, &ae) {
		t.Fatalf("acquire while engaged: %v", err)
	}
	if ae.RetryAfter != time.Second || ae.QRFState != "engaged" || ae.Code != api.CodeThrottled {
		t.Fatalf("throttled error %+v", ae)
	}
}
