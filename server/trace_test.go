package server_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/telemetry"
	"github.com/lockdhq/lockd/internal/telemetry/otlptest"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// An acquire sent with a W3C traceparent arrives at a real OTLP receiver
// as HTTP span (child of the client's span) -> actor.handoff -> store span,
// with the correlation id on the HTTP span; over gRPC and over HTTP.
func TestTraceSpansReachOTLPReceiver(t *testing.T) {
	for _, tc := range []struct {
		name string
		recv func(testing.TB) *otlptest.Receiver
		url  func(string) string
	}{
		{"grpc", otlptest.GRPC, func(a string) string { return a }},
		{"http", otlptest.HTTP, func(a string) string { return "http://" + a }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.recv(t)
			p, err := telemetry.Start(context.Background(), tc.url(r.Addr), telemetry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := server.StartOn(ln, mem.New(), server.Config{SweeperInterval: -1})
			defer srv.Close(context.Background())

			const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			req, _ := http.NewRequest("POST", srv.URL()+"/v1/acquire", strings.NewReader(`{"key":"k","owner":"o","ttl_seconds":30}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
			req.Header.Set("X-Correlation-Id", "cid-trace-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("acquire: %d", resp.StatusCode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			spans, _ := r.WaitFor(10*time.Second, func(s []otlptest.Span) bool { return len(s) >= 3 })
			var httpSpan, actorSpan, storeSpan *otlptest.Span
			for i := range spans {
				s := &spans[i]
				switch {
				case s.Name == "POST /v1/acquire":
					httpSpan = s
				case s.Name == "actor.handoff":
					actorSpan = s
				case strings.HasPrefix(s.Name, "store.") && storeSpan == nil:
					storeSpan = s
				}
			}
			if httpSpan == nil || actorSpan == nil || storeSpan == nil {
				t.Fatalf("missing spans: %+v", spans)
			}
			if httpSpan.TraceID != traceID || httpSpan.ParentSpanID != parentID {
				t.Errorf("http span trace %s parent %s, want %s %s", httpSpan.TraceID, httpSpan.ParentSpanID, traceID, parentID)
			}
			if httpSpan.Attrs["lockd.correlation_id"] != "cid-trace-1" {
				t.Errorf("http span attrs %v lack the correlation id", httpSpan.Attrs)
			}
			if httpSpan.Service != "lockd" {
				t.Errorf("service.name %q", httpSpan.Service)
			}
			if actorSpan.ParentSpanID != httpSpan.SpanID || actorSpan.TraceID != traceID {
				t.Errorf("actor span parent %s, want %s", actorSpan.ParentSpanID, httpSpan.SpanID)
			}
			if storeSpan.ParentSpanID != actorSpan.SpanID || storeSpan.TraceID != traceID {
				t.Errorf("%s parent %s, want actor span %s", storeSpan.Name, storeSpan.ParentSpanID, actorSpan.SpanID)
			}
		})
	}
}
