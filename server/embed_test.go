package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/bundle"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/rs/xid"
)

// startEmbedded runs NewServer + Start as an embedding program does and
// returns the server and Start's result channel.
func startEmbedded(t *testing.T, cfg server.Config, opts ...server.Option) (*server.Server, <-chan error) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.SweeperInterval = -1
	srv, err := server.NewServer(cfg, append([]server.Option{server.WithBackend(mem.New())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if srv.ListenerAddr() != nil {
		t.Fatal("ListenerAddr before Start")
	}
	done := make(chan error, 1)
	go func() { done <- srv.Start() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitUntilReady(ctx); err != nil {
		t.Fatal(err)
	}
	return srv, done
}

func waitStart(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after Shutdown")
		return nil
	}
}

// NewServer, Start, WaitUntilReady, ListenerAddr and Shutdown as lockd
// v0.9 has them: the node serves the SDK on ListenerAddr, Shutdown drains
// and stops it, and Start returns nil.
func TestEmbeddedLifecycle(t *testing.T) {
	srv, done := startEmbedded(t, server.Config{})
	addr := srv.ListenerAddr()
	if addr == nil {
		t.Fatal("no ListenerAddr once ready")
	}
	cli, err := sdk.New("http://"+addr.String(), sdk.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "embedded", Owner: "t", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := waitStart(t, done); err != nil {
		t.Fatalf("Start returned %v after a clean shutdown", err)
	}
	if err := srv.Start(); err == nil {
		t.Fatal("a second Start succeeded")
	}
}

// A server shut down before it started never starts.
func TestEmbeddedShutdownBeforeStart(t *testing.T) {
	srv, err := server.NewServer(server.Config{Listen: "127.0.0.1:0"}, server.WithBackend(mem.New()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrServerClosed", err)
	}
}

// A start that fails (the port is taken) is reported by Start and by
// WaitUntilReady.
func TestEmbeddedStartFailure(t *testing.T) {
	first, done := startEmbedded(t, server.Config{})
	defer func() { first.Shutdown(context.Background()); waitStart(t, done) }()
	srv, err := server.NewServer(server.Config{Listen: first.ListenerAddr().String()}, server.WithBackend(mem.New()))
	if err != nil {
		t.Fatal(err)
	}
	startErr := make(chan error, 1)
	go func() { startErr <- srv.Start() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitUntilReady(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitUntilReady = %v, want the listen error", err)
	}
	if err := <-startErr; err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Start = %v, want the listen error", err)
	}
}

// Abort cuts the node at once: Start returns, the port refuses.
func TestEmbeddedAbort(t *testing.T) {
	srv, done := startEmbedded(t, server.Config{})
	url := "http://" + srv.ListenerAddr().String()
	if err := srv.Abort(context.Background()); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := waitStart(t, done); err != nil {
		t.Fatalf("Start after Abort: %v", err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := hc.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("aborted server still answers")
	}
}

// Handler mounts lockd in a net/http mux: raw HTTP and the SDK work
// through it, state included, and the node's own listener sees the same
// data.
func TestEmbeddedHandlerInMux(t *testing.T) {
	srv, done := startEmbedded(t, server.Config{})
	defer func() { srv.Shutdown(context.Background()); waitStart(t, done) }()
	mux := http.NewServeMux()
	mux.Handle("/v1/", srv.Handler())
	mux.HandleFunc("/app", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("app")) })
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.Post(hs.URL+"/v1/acquire", "application/json",
		strings.NewReader(`{"key":"mux","owner":"raw","ttl_seconds":30}`))
	if err != nil {
		t.Fatal(err)
	}
	var grant api.AcquireResponse
	json.NewDecoder(resp.Body).Decode(&grant)
	resp.Body.Close()
	if resp.StatusCode != 200 || grant.LeaseID == "" || grant.FencingToken != 1 {
		t.Fatalf("acquire through Handler: %d %+v", resp.StatusCode, grant)
	}
	if resp.Header.Get(api.HeaderCorrelationID) == "" {
		t.Fatal("no correlation id header through Handler")
	}
	rel, _ := json.Marshal(api.ReleaseRequest{Key: "mux", LeaseID: grant.LeaseID, TxnID: grant.TxnID})
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/release", strings.NewReader(string(rel)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderFencingToken, "1")
	req.Header.Set(api.HeaderTxnID, grant.TxnID)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("release through Handler: %d", resp.StatusCode)
	}

	cli, err := sdk.New(hs.URL, sdk.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "mux", Owner: "sdk", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if sess.FencingToken != 2 {
		t.Fatalf("fencing through Handler = %d, want 2", sess.FencingToken)
	}
	if err := sess.Save(ctx, map[string]string{"via": "mux"}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	direct, err := sdk.New("http://"+srv.ListenerAddr().String(), sdk.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	got, err := direct.Get(ctx, "mux")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	if err := got.Decode(&doc); err != nil || doc["via"] != "mux" {
		t.Fatalf("state written through Handler, read directly: %v %v", doc, err)
	}
	if resp, err = http.Get(hs.URL + "/app"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// WithBundlePEM serves mutual TLS from bundles made by package bundle:
// the SDK with a client bundle of the same CA gets in, one of another CA
// does not.
func TestEmbeddedWithBundlePEM(t *testing.T) {
	ca, err := bundle.CreateCABundle(bundle.CreateCABundleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	srvPEM, err := bundle.CreateServerBundle(bundle.CreateServerBundleRequest{CABundlePEM: ca})
	if err != nil {
		t.Fatal(err)
	}
	srv, done := startEmbedded(t, server.Config{}, server.WithBundlePEM(srvPEM))
	defer func() { srv.Shutdown(context.Background()); waitStart(t, done) }()
	url := "https://" + srv.ListenerAddr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	good := clientOf(t, ca, url)
	sess, err := good.Acquire(ctx, api.AcquireRequest{Key: "tls", Owner: "t", TTLSeconds: 30})
	if err != nil {
		t.Fatalf("acquire with a client of the CA: %v", err)
	}
	sess.Release(ctx)

	other, err := bundle.CreateCABundle(bundle.CreateCABundleRequest{CommonName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	bad := clientOf(t, other, url, sdk.WithRetries(0))
	if _, err := bad.Acquire(ctx, api.AcquireRequest{Key: "tls", Owner: "x", TTLSeconds: 30}); err == nil {
		t.Fatal("a client of another CA got a lease")
	}

	// Requests through Handler carry no client certificate: under mTLS a
	// coordinator call is 403 tc_client_required and a namespace call 403
	// namespace_forbidden; neither acts.
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, c := range []struct{ path, body, code string }{
		{"/v1/txn/decide", `{"txn_id":"` + xid.New().String() + `","state":"commit"}`, api.CodeTCClientRequired},
		{"/v1/acquire", `{"key":"tls","owner":"anon","ttl_seconds":30,"block_seconds":-1}`, api.CodeNamespaceForbidden},
	} {
		resp, err := http.Post(hs.URL+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var e api.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 403 || e.Error != c.code {
			t.Fatalf("%s through Handler without a certificate: %d %+v, want 403 %s", c.path, resp.StatusCode, e, c.code)
		}
	}
	d, err := good.Describe(ctx, "tls")
	if err != nil || d.LeaseID != "" {
		t.Fatalf("after the refused acquire: %+v %v", d, err)
	}
}

func clientOf(t *testing.T, caPEM []byte, url string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	pem, err := bundle.CreateClientBundle(bundle.CreateClientBundleRequest{CABundlePEM: caPEM, ReadWriteAll: true})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := tlsutil.ParseClientBundle(pem)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sdk.New(url, append([]sdk.Option{sdk.WithTLSConfig(cb.TLSConfig())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
