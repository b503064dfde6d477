package edge_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// fuzzRoutes are the paths FuzzAuthorizedRequests picks from.
var fuzzRoutes = []string{
	"/v1/acquire", "/v1/keepalive", "/v1/release", "/v1/describe", "/v1/get", "/v1/update",
	"/v1/remove", "/v1/metadata", "/v1/mutate", "/v1/attachments", "/v1/attachment", "/v1/query",
	"/v1/index/flush", "/v1/namespace", "/v1/queue/enqueue", "/v1/queue/dequeue", "/v1/queue/ack",
	"/v1/queue/stats", "/v1/queue/dlq/list", "/v1/txn/decide", "/v1/txn/replay", "/v1/tc/leader",
}

// FuzzAuthorizedRequests sends arbitrary requests through the mTLS edge
// with a certificate that may act only on namespace "allowed": whatever the
// path, query and body, a request that names no allowed namespace is never
// served (no 2xx), nothing answers 5xx, and the server keeps serving.
func FuzzAuthorizedRequests(f *testing.F) {
	ca, err := tlsutil.NewCA("fuzz", 0)
	if err != nil {
		f.Fatal(err)
	}
	sb, _ := ca.IssueServer(tlsutil.ServerOptions{})
	cb, _ := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{Claims: []tlsutil.Claim{{Namespace: "allowed", Perm: tlsutil.PermReadWrite}}})
	ln := fasthttputil.NewInmemoryListener()
	srv := server.StartOn(ln, mem.New(), server.Config{JSONMax: 4096, AcquireBlock: time.Millisecond,
		Security: server.Security{Bundle: sb, DisableEncryption: true}})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	cfg := cb.TLSConfig()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			raw, err := ln.Dial()
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, cfg)
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		},
	}}
	f.Add(uint8(0), "POST", "other", `{"key":"k","owner":"o","namespace":"default"}`)
	f.Add(uint8(11), "POST", "", `{"namespace":"x","selector":{}}`)
	f.Add(uint8(13), "GET", "ALL", ``)
	f.Add(uint8(5), "POST", "Allowed/..", `{"a":1}`)
	f.Add(uint8(19), "POST", "allowed", `{"txn_id":"c5v9d0sl70b3m3q8ndg0","participants":[{"namespace":"allowed","key":"k"}]}`)
	f.Fuzz(func(t *testing.T, route uint8, method, ns, body string) {
		if method != "GET" && method != "POST" && method != "DELETE" {
			method = "POST"
		}
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		target := "https://lockd" + path + "?key=k&queue=q&name=a&namespace=" + url.QueryEscape(ns)
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s ns=%q body=%q: %d %s", method, path, ns, body, resp.StatusCode, out)
		}
		named := strings.EqualFold(strings.TrimSpace(ns), "allowed") || bytes.Contains(bytes.ToLower([]byte(body)), []byte("allowed"))
		if resp.StatusCode < 300 && !named {
			t.Fatalf("%s %s ns=%q body=%q served without naming the allowed namespace: %d %s", method, path, ns, body, resp.StatusCode, out)
		}
	})
}
