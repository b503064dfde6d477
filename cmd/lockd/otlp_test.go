package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/telemetry/otlptest"
)

// The lockd binary with --otlp-endpoint exports its request spans to a
// collector on loopback; they are flushed on SIGTERM at the latest.
func TestProcessExportsOTLPTraces(t *testing.T) {
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
			p := startLockd(t, "--store", "mem://", "--otlp-endpoint", tc.url(r.Addr))
			if _, err := acquireKey(p.URL, "traced"); err != nil {
				t.Fatal(err)
			}
			p.stop(t)
			spans, ok := r.WaitFor(10*time.Second, func(s []otlptest.Span) bool {
				var http, actor, st bool
				for _, x := range s {
					http = http || x.Name == "POST /v1/acquire"
					actor = actor || x.Name == "actor.handoff"
					st = st || strings.HasPrefix(x.Name, "store.")
				}
				return http && actor && st
			})
			if !ok {
				t.Fatalf("spans received: %+v", spans)
			}
		})
	}
}
