package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// throttlingProxy forwards to target but answers the first n requests
// with 429 throttled and Retry-After: 1.
func throttlingProxy(t *testing.T, target string, n int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"throttled","detail":"perimeter defence engaged","retry_after_seconds":1}` + "\n"))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestRetryOn429HonoursRetryAfter(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	proxy, seen := throttlingProxy(t, ts.Endpoint, 2)
	c := newClient(t, proxy.URL)
	ctx := testCtx(t)
	start := time.Now()
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "busy", Owner: "w", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if seen.Load() != 3 {
		t.Fatalf("requests = %d, want 3", seen.Load())
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("retried after %s, before the two Retry-After: 1 elapsed", el)
	}
	// With retries disabled the 429 surfaces as ErrThrottled.
	proxy2, _ := throttlingProxy(t, ts.Endpoint, 1)
	c2 := newClient(t, proxy2.URL, sdk.WithRetries(0))
	_, err = c2.Describe(ctx, "busy")
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrThrottled) || !errors.As(err, &ae) || ae.RetryAfter != time.Second {
		t.Fatalf("no retries: %v", err)
	}
}

func TestFailoverAcrossEndpoints(t *testing.T) {
	a := startServer(t, "tcp", server.Config{})
	b := startServer(t, "unix", server.Config{})
	c, err := sdk.NewWithEndpoints([]string{a.Endpoint, b.Endpoint}, sdk.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "q", strings.NewReader("on a"), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := newClient(t, a.Endpoint).QueueStats(ctx, "q"); err != nil || st.Ready != 1 {
		t.Fatalf("first endpoint not used: %v %+v", err, st)
	}
	a.stop() // kill the first node
	// The same call fails over to the second endpoint within its budget.
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "w", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]string{"on": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := newClient(t, b.Endpoint).Describe(ctx, "k"); err != nil || d.Version != 1 {
		t.Fatalf("second node: %v %+v", err, d)
	}
	// With both down the call gives up after its retry budget.
	b.stop()
	start := time.Now()
	_, err = c.Describe(ctx, "k")
	var ae *sdk.APIError
	if err == nil || errors.As(err, &ae) || time.Since(start) > 10*time.Second {
		t.Fatalf("all endpoints down: %v after %s", err, time.Since(start))
	}
}

func TestDrainAwareRelease(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	busy, err := c.Acquire(ctx, api.AcquireRequest{Key: "busy", Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := c.Acquire(ctx, api.AcquireRequest{Key: "idle", Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	// An in-flight read holds the release back until it is closed.
	g, err := busy.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts.Drain()
	if err := busy.Save(ctx, map[string]int{"v": 1}); err != nil { // sees Shutdown-Imminent
		t.Fatal(err)
	}
	select {
	case <-idle.Done():
	case <-ctx.Done():
		t.Fatal("idle session not released on drain")
	}
	if d, err := c.Describe(ctx, "idle"); err != nil || d.LeaseID != "" {
		t.Fatalf("idle lease still held: %v %+v", err, d)
	}
	if d, err := c.Describe(ctx, "busy"); err != nil || d.LeaseID == "" {
		t.Fatalf("busy lease released with work in flight: %v %+v", err, d)
	}
	g.Close() // the in-flight work ends: now it is released, committing the save
	select {
	case <-busy.Done():
	case <-ctx.Done():
		t.Fatal("busy session not released after its work")
	}
	if !errors.Is(busy.Err(), sdk.ErrSessionClosed) {
		t.Fatalf("err = %v", busy.Err())
	}
	var v map[string]int
	pg, err := c.Get(ctx, "busy")
	if err != nil || pg.Decode(&v) != nil || v["v"] != 1 {
		t.Fatalf("drain release did not commit: %v %v", err, v)
	}
	if err := busy.Release(ctx); err != nil {
		t.Fatalf("release after drain release: %v", err)
	}
	// New acquires are refused while the server drains (a client with
	// retries would go on to another endpoint).
	_, err = newClient(t, ts.Endpoint, sdk.WithRetries(0)).Acquire(ctx, api.AcquireRequest{Key: "new", Owner: "w", BlockSeconds: sdk.BlockNoWait}, sdk.WithoutKeepAlive())
	if !errors.Is(err, sdk.ErrDraining) {
		t.Fatalf("acquire while draining: %v", err)
	}
}

func TestDrainAwareDisabled(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint, sdk.WithDrainAwareShutdown(false))
	ctx := testCtx(t)
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "keep", Owner: "w", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	ts.Drain()
	if err := sess.Save(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if sess.Err() != nil {
		t.Fatalf("released although drain-awareness is off: %v", sess.Err())
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCorrelationIDs(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := sdk.WithCorrelationID(testCtx(t), "trace-123")
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "cid", Owner: "w", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if sess.CorrelationID != "trace-123" {
		t.Fatalf("acquire correlation id = %q", sess.CorrelationID)
	}
	// Session calls carry the acquire's id even without it in ctx.
	_, err = sess.UpdateBytes(testCtx(t), []byte("{"))
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.CorrelationID != "trace-123" {
		t.Fatalf("session call correlation: %v", err)
	}
	if _, ok := sdk.NormalizeCorrelationID(strings.Repeat("x", 129)); ok {
		t.Fatal("overlong id accepted")
	}
	if id := sdk.GenerateCorrelationID(); len(id) != 36 {
		t.Fatalf("generated id %q", id)
	}
}

func TestAcquireForUpdate(t *testing.T) {
	// The server runs on a fake clock, so that the handler outlives its
	// lease's TTL without sleeping (and a late keepalive on a loaded
	// machine cannot lose it).
	clk := clock.NewFake(time.Now())
	forEachTransport(t, server.Config{Clock: clk}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		req := api.AcquireRequest{Key: "counter", Owner: "w", TTLSeconds: 2}
		for range 2 {
			err := c.AcquireForUpdate(ctx, req, func(ctx context.Context, s *sdk.Snapshot) error {
				var st struct{ N int }
				if err := s.Decode(&st); err != nil {
					return err
				}
				st.N++
				return s.Save(ctx, st)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// A failing handler rolls back; the lease is kept alive meanwhile.
		boom := errors.New("boom")
		err := c.AcquireForUpdate(ctx, req, func(ctx context.Context, s *sdk.Snapshot) error {
			if !s.Exists() {
				return errors.New("no state")
			}
			if err := s.Save(ctx, map[string]int{"N": 100}); err != nil {
				return err
			}
			// 1.5 s of the 2 s TTL pass; the background keepalive (every
			// TTL/2) renews the lease; then the first expiry passes too.
			first := s.ExpiresAt()
			clk.Advance(1500 * time.Millisecond)
			deadline := time.Now().Add(30 * time.Second)
			for !s.ExpiresAt().After(first) {
				if time.Now().After(deadline) || s.Err() != nil {
					return fmt.Errorf("no keepalive within 30s: %v", s.Err())
				}
				time.Sleep(10 * time.Millisecond)
			}
			clk.Advance(1500 * time.Millisecond) // beyond the TTL
			if _, err := c.Acquire(ctx, api.AcquireRequest{Key: "counter", Owner: "x", BlockSeconds: sdk.BlockNoWait}); !errors.Is(err, sdk.ErrWaiting) {
				return errors.New("lease not kept alive")
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("handler error: %v", err)
		}
		var st struct{ N int }
		g, err := c.Get(ctx, "counter")
		if err != nil || g.Decode(&st) != nil || st.N != 2 {
			t.Fatalf("state = %+v (%v)", st, err)
		}
		if d, _ := c.Describe(ctx, "counter"); d.LeaseID != "" {
			t.Fatal("lease not released after handler")
		}
		req.IfNotExists = true
		called := false
		err = c.AcquireForUpdate(ctx, req, func(context.Context, *sdk.Snapshot) error { called = true; return nil })
		if !errors.Is(err, sdk.ErrAlreadyExists) || called {
			t.Fatalf("if_not_exists: %v called=%v", err, called)
		}
	})
}

func TestLeaseLostCancelsHandler(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint, sdk.WithRetries(0), sdk.WithKeepAliveTimeout(500*time.Millisecond))
	ctx := testCtx(t)
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.AcquireForUpdate(ctx, api.AcquireRequest{Key: "doomed", Owner: "w", TTLSeconds: 2},
			func(hctx context.Context, s *sdk.Snapshot) error {
				close(started)
				<-hctx.Done() // the lease is lost when its server goes away
				return context.Cause(hctx)
			})
	}()
	<-started
	ts.stop()
	select {
	case err := <-errc:
		if !errors.Is(err, sdk.ErrSessionClosed) || !strings.Contains(err.Error(), "lease lost") {
			t.Fatalf("handler ended with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("handler not cancelled after the lease was lost")
	}
}

func TestConsumerGracefulStopStateful(t *testing.T) {
	ts := startServer(t, "unix", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "flows", strings.NewReader("step"), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	subCtx, stop := context.WithCancel(ctx)
	started, finished := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Subscribe(subCtx, "flows", sdk.ConsumerOptions{Owner: "c", Stateful: true, StopGrace: 10 * time.Second},
			func(hctx context.Context, m *sdk.QueueMessage) error {
				var st map[string]string
				if err := m.State().Load(hctx, &st); err != nil {
					return err
				}
				if st["seen"] == "" {
					// A failure nacks the message; the nack keeps the
					// workflow state staged here for the next delivery.
					if err := m.State().Save(hctx, map[string]string{"seen": m.ID()}); err != nil {
						return err
					}
					return errors.New("first attempt fails")
				}
				close(started)
				time.Sleep(300 * time.Millisecond) // still working when the stop comes
				if hctx.Err() != nil {
					return errors.New("handler context cancelled within the grace period")
				}
				close(finished)
				return nil
			})
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("redelivery with the saved workflow state never came")
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Subscribe returned before its handler finished")
	}
	st, err := c.QueueStats(ctx, "flows")
	if err != nil || st.Ready+st.InFlight+st.Delayed != 0 {
		t.Fatalf("message not acked: %v %+v", err, st)
	}
}

func TestAttemptTimeoutBoundsSilentServers(t *testing.T) {
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/describe" { // headers, then a body that never ends
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.Write([]byte(`{"key":`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stall.Close()
	defer close(release) // before Close, which waits for the handlers
	c := newClient(t, stall.URL, sdk.WithHTTPTimeout(200*time.Millisecond), sdk.WithRetries(1))
	ctx := testCtx(t)
	for _, call := range []func() error{
		func() error {
			_, err := c.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "w", BlockSeconds: sdk.BlockNoWait})
			return err
		},
		func() error { _, err := c.Describe(ctx, "k"); return err },
	} {
		start := time.Now()
		err := call()
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("silent server: %v after %s", err, time.Since(start))
		}
		if !strings.Contains(err.Error(), "timed out") && !strings.Contains(err.Error(), "no answer") {
			t.Fatalf("error does not say it timed out: %v", err)
		}
	}
}
