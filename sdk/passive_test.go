package sdk_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
)

// passiveNode answers every request 503 node_passive naming leader.
func passiveNode(t *testing.T, leader *string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"node_passive","detail":"passive","leader_endpoint":"` + *leader + `","retry_after_seconds":1}` + "\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// On 503 node_passive the client goes straight to the leader_endpoint the
// passive node names, when it is one of its endpoints, rather than to the
// next endpoint in its list.
func TestNodePassiveSendsToLeader(t *testing.T) {
	active := startServer(t, "tcp", server.Config{})
	leader := active.Endpoint
	p1, hits1 := passiveNode(t, &leader)
	p2, hits2 := passiveNode(t, &leader)
	c, err := sdk.NewWithEndpoints([]string{p1.URL, p2.URL, active.Endpoint}, sdk.WithDisableMTLS(true),
		sdk.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Describe(testCtx(t), "k"); err != nil {
		t.Fatal(err)
	}
	if hits1.Load() != 1 || hits2.Load() != 0 {
		t.Fatalf("passive hits: first %d, second %d; want 1 and 0", hits1.Load(), hits2.Load())
	}
}
