package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lockdhq/lockd/cluster/ha"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// sharedStore is one store opened by several servers of a test, as an
// object store is by several processes: Close leaves it open, and it has
// no optional abilities (atomic batches) an object store lacks.
type sharedStore struct{ store.Store }

func (sharedStore) Close() error { return nil }

func startHA(t *testing.T, st store.Store, mode string, onLost func(error)) *server.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.StartWith(ln, sharedStore{st}, server.Config{SweeperInterval: -1,
		HA: server.HA{Mode: mode, LeaseTTL: ha.MinLeaseTTL, Shared: true, OnLost: onLost}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { closeServer(t, srv) })
	return srv
}

func closeServer(t *testing.T, srv *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func waitReady(t *testing.T, url string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if st, _, _ := get(t, url+"/readyz"); st == 200 {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s", url, within)
	return 0
}

// A passive node answers 503 node_passive (Retry-After, leader_endpoint)
// and is not ready; when the active node shuts down it releases the lease,
// and the passive one takes over at its next poll and serves what the
// first committed, with the fencing counter continuing.
func TestFailoverPassiveGateAndHandoverOnClose(t *testing.T) {
	st := mem.New()
	a := startHA(t, st, "failover", nil)
	b := startHA(t, st, "failover", nil)
	if a.HARole() != "active" || b.HARole() != "passive" {
		t.Fatalf("roles: a %q b %q", a.HARole(), b.HARole())
	}
	status, hdr, body := get(t, b.URL()+"/v1/acquire")
	var e api.ErrorResponse
	json.Unmarshal(body, &e)
	if status != 503 || e.Error != api.CodeNodePassive || hdr.Get("Retry-After") != "1" || e.LeaderEndpoint != a.URL() {
		t.Fatalf("passive acquire: %d %s %s", status, hdr, body)
	}
	if s, _, _ := get(t, b.URL()+"/readyz"); s != 503 {
		t.Fatalf("passive readyz %d", s)
	}
	if s, _, _ := get(t, b.URL()+"/healthz"); s != 200 {
		t.Fatalf("passive healthz %d", s)
	}
	if s, _, _ := get(t, a.URL()+"/readyz"); s != 200 {
		t.Fatalf("active readyz %d", s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The passive endpoint first: the client moves on to the active one.
	cli, err := sdk.NewWithEndpoints([]string{b.URL(), a.URL()}, sdk.WithDisableMTLS(true),
		sdk.WithRetries(20), sdk.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cycle := func(n int) int64 {
		t.Helper()
		s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "t", TTLSeconds: 30, BlockSeconds: 10})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ N int }
		if err := s.Load(ctx, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.N != n-1 {
			t.Fatalf("read n=%d before writing %d: an acknowledged commit is lost", doc.N, n)
		}
		if err := s.Save(ctx, map[string]int{"n": n}); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx); err != nil {
			t.Fatal(err)
		}
		return s.FencingToken
	}
	f1 := cycle(1)
	closeServer(t, a)
	took := waitReady(t, b.URL(), 5*time.Second)
	t.Logf("handover after a clean shutdown: %s", took)
	if f2 := cycle(2); f2 != f1+1 {
		t.Fatalf("fencing %d after %d", f2, f1)
	}
	lv, err := ha.ReadLease(ctx, st)
	if err != nil || lv.Rec.Term != 2 || lv.Rec.Holder.Endpoint != b.URL() {
		t.Fatalf("lease after handover: %+v %v", lv.Rec, err)
	}
}

// An active node that finds the lease in other hands stops serving at
// once and reports it (the binary then exits).
func TestFailoverLostLeaseClosesTheGate(t *testing.T) {
	st := mem.New()
	lost := make(chan error, 1)
	a := startHA(t, st, "failover", func(err error) { lost <- err })
	ctx := context.Background()
	lv, err := ha.ReadLease(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	r := lv.Rec
	r.Holder, r.Term, r.Nonce = ha.NodeInfo{ID: "thief", Endpoint: "http://thief"}, r.Term+1, "x"
	b, _ := json.Marshal(r)
	if _, err := st.Put(ctx, ha.LeaseKey, b, store.Cond{IfMatch: lv.ETag}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if err == nil {
			t.Fatal("OnLost without a cause")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not notice that it lost its lease")
	}
	status, _, body := get(t, a.URL()+"/v1/acquire")
	if status != 503 || !json.Valid(body) {
		t.Fatalf("lost node answers %d %s", status, body)
	}
}

// A second single-mode node on the same store refuses to start.
func TestSingleModeFencesSecondNode(t *testing.T) {
	st := mem.New()
	startHA(t, st, "single", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = server.StartWith(ln, sharedStore{st}, server.Config{SweeperInterval: -1, HA: server.HA{Mode: "single", Shared: true}})
	if !errors.Is(err, ha.ErrFenced) {
		t.Fatalf("second single node: %v", err)
	}
}

func TestHAConfigRejectedAtStart(t *testing.T) {
	for _, h := range []server.HA{{LeaseTTL: 4 * time.Second}, {Mode: "active-active"}} {
		_, err := server.Start(server.Config{Listen: "127.0.0.1:0", Store: "mem://", HA: h})
		if !errors.Is(err, ha.ErrInvalidConfig) {
			t.Fatalf("%+v: %v", h, err)
		}
	}
}
