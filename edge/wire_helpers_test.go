package edge_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge"
	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// The wire_*_test.go files pin, endpoint by endpoint, every error status
// and code that lockd v0.9 documents (docs/WIRE-FACTS.md, the swagger's
// statuses), in one table per endpoint. Where we answer differently on
// purpose the case says why.

// wireCase is one documented error answer of an endpoint.
type wireCase struct {
	name    string
	method  string // "" = POST
	path    string
	body    any
	headers []string
	status  int
	code    string
	// retryAfter, when set, is the Retry-After header (and
	// retry_after_seconds) the answer must carry; "-" means none.
	retryAfter string
}

// checkWire sends the cases in order (later cases may rely on state left
// by earlier ones) and checks status, code, a detail, and that a
// Retry-After header agrees with retry_after_seconds.
func checkWire(t *testing.T, s *edgetest.Server, cases []wireCase) {
	t.Helper()
	for _, tc := range cases {
		method := tc.method
		if method == "" {
			method = "POST"
		}
		r := s.Do(method, tc.path, tc.body, tc.headers...)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s: %s %s: got %d %s, want %d %s", tc.name, method, tc.path, r.Status, r.Body, tc.status, tc.code)
			continue
		}
		var e api.ErrorResponse
		r.JSON(t, &e)
		if e.Detail == "" {
			t.Errorf("%s: error without detail: %s", tc.name, r.Body)
		}
		hdr := r.Header.Get("Retry-After")
		if e.RetryAfterSeconds > 0 && hdr != strconv.FormatInt(e.RetryAfterSeconds, 10) {
			t.Errorf("%s: retry_after_seconds %d but Retry-After %q", tc.name, e.RetryAfterSeconds, hdr)
		}
		switch tc.retryAfter {
		case "":
		case "-":
			if hdr != "" {
				t.Errorf("%s: unexpected Retry-After %q", tc.name, hdr)
			}
		default:
			if hdr != tc.retryAfter {
				t.Errorf("%s: Retry-After %q, want %q", tc.name, hdr, tc.retryAfter)
			}
		}
	}
}

// disabledEdge serves an edge over a key service alone, as a node without
// queues, index or transactions would (the 501 answers). The key service is
// s's when s runs in this process, else a fresh in-process one's: the 501s
// do not depend on the backend.
func disabledEdge(t *testing.T, s *edgetest.Server) *edgetest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, ok := s.Node.(*server.Server)
	if !ok {
		srv = edgetest.Start(t, edgetest.Mem, server.Config{}).InProc()
	}
	e := edge.New(edge.Services{Keys: srv.Keys()}, edge.Config{})
	go e.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return &edgetest.Server{Node: s.Node, T: t, Client: s.Client, Base: "http://" + ln.Addr().String()}
}

// fence is a fencing token header value.
func fence(n int64) string { return strconv.FormatInt(n, 10) }
