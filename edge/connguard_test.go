package edge_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/connguard"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// clientFrom is an HTTP client whose connections leave from source src
// (a loopback address) and are never reused.
func clientFrom(src string, cfg *tls.Config) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, DialContext: d.DialContext, DisableKeepAlives: true}}
}

// Under mTLS, failed handshakes from one address block it; other
// addresses are served throughout, and the block expires.
func TestConnGuardBlocksBadHandshakes(t *testing.T) {
	t.Parallel()
	ca, err := tlsutil.NewCA("guard-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: "guard-node"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "server.pem")
	data, _ := sb.Encode()
	if err := tlsutil.WriteFile(path, data, true); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	srv := server.StartOn(ln, mem.New(), server.Config{Security: server.Security{Bundle: sb, BundlePath: path}, Clock: clk,
		ConnGuard: connguard.Config{Enabled: true, FailureThreshold: 3, FailureWindow: time.Minute, BlockDuration: time.Minute}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	cb, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := cb.TLSConfig()
	noCert := &tls.Config{RootCAs: sb.CAPool(), ServerName: good.ServerName}
	ok := func(src string) bool {
		resp, err := clientFrom(src, good).Get(srv.URL() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	if !ok("127.0.0.2") || !ok("127.0.0.3") {
		t.Fatal("valid clients refused before any failure")
	}
	for i := 0; i < 3; i++ {
		if resp, err := clientFrom("127.0.0.2", noCert).Get(srv.URL() + "/healthz"); err == nil {
			resp.Body.Close()
			t.Fatal("a client without a certificate was served")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for ok("127.0.0.2") {
		if time.Now().After(deadline) {
			t.Fatal("three failed handshakes did not block their source")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok("127.0.0.3") {
		t.Fatal("a valid client on another address was refused while one was blocked")
	}
	clk.Advance(time.Minute)
	if !ok("127.0.0.2") {
		t.Fatal("the block did not expire")
	}
}
