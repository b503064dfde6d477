package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// fuzzServer serves on an in-memory listener so fuzzing needs no ports.
func fuzzServer(f *testing.F) func() (net.Conn, error) {
	ln := fasthttputil.NewInmemoryListener()
	srv := server.StartOn(ln, mem.New(), server.Config{JSONMax: 4096, AcquireBlock: time.Millisecond})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return ln.Dial
}

// FuzzRequests sends arbitrary bodies and header values to every endpoint:
// the server must answer each with a status below 500 and keep serving.
func FuzzRequests(f *testing.F) {
	dial := fuzzServer(f)
	paths := []string{"/v1/acquire", "/v1/keepalive", "/v1/release", "/v1/get?key=k", "/v1/get?key=k&public=1",
		"/v1/update?key=k", "/v1/remove?key=k", "/v1/metadata?key=k", "/v1/describe?key=k"}
	f.Add(uint8(0), []byte(`{"key":"k","owner":"o","block_seconds":-1}`), "1", "c5v9d0sl70b3m3q8ndg0", "1")
	f.Add(uint8(1), []byte(`{"key":"k","lease_id":"x","txn_id":"y"}`), "2", "x", "")
	f.Add(uint8(5), []byte(`{"a":[1,2,{"b":null}]}`), "1", "l", "1")
	f.Add(uint8(7), []byte(`{"query_hidden":true}`), "9", "l", "0")
	f.Add(uint8(2), []byte(`{"key":"k","namespace":".txns"}`), "-1", "", "abc")
	f.Fuzz(func(t *testing.T, which uint8, body []byte, fencing, lease, version string) {
		path := paths[int(which)%len(paths)]
		conn, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var req bytes.Buffer
		fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", path, len(body))
		for _, h := range [][2]string{{"X-Fencing-Token", fencing}, {"X-Lease-ID", lease}, {"X-Txn-ID", lease}, {"X-If-Version", version}} {
			if clean(h[1]) {
				fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
			}
		}
		req.WriteString("\r\n")
		req.Write(body)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(req.Bytes()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no response to %s %q: %v", path, body, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %q answered %d", path, body, resp.StatusCode)
		}
	})
}

// clean reports whether v can be sent as a header value.
func clean(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
