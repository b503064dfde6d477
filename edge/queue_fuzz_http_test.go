package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// FuzzQueueRequests sends arbitrary bodies and content types to the queue
// endpoints that answer at once (long polls and streams are left out): the
// server answers each below 500 and keeps serving.
func FuzzQueueRequests(f *testing.F) {
	ln := fasthttputil.NewInmemoryListener()
	srv := server.StartOn(ln, mem.New(), server.Config{})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	paths := []string{"/v1/queue/enqueue", "/v1/queue/ack", "/v1/queue/nack", "/v1/queue/extend",
		"/v1/queue/stats", "/v1/queue/dlq/list", "/v1/queue/dlq/requeue", "/v1/queue/enqueue?queue=q"}
	f.Add(uint8(0), "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\"q\"}\r\n--b--\r\n"))
	f.Add(uint8(1), "application/json", []byte(`{"queue":"q","message_id":"m","lease_id":"l","fencing_token":1}`))
	f.Add(uint8(2), "application/json", []byte(`{"queue":"q:dlq","message_id":"m","lease_id":"l","meta_etag":"e","intent":"defer","last_error":{"x":1}}`))
	f.Add(uint8(3), "application/json", []byte(`{"queue":"q","message_id":"m","lease_id":"l","meta_etag":"e","extend_by_seconds":-5}`))
	f.Add(uint8(4), "", []byte(`{"queue":"a/b"}`))
	f.Add(uint8(6), "application/json", []byte(`{"queue":"q","all":true,"delay_seconds":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, which uint8, ctype string, body []byte) {
		path := paths[int(which)%len(paths)]
		conn, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var req bytes.Buffer
		fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", path, len(body))
		if headerSafe(ctype) {
			fmt.Fprintf(&req, "Content-Type: %s\r\n", ctype)
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
			t.Fatalf("%s %q %q answered %d", path, ctype, body, resp.StatusCode)
		}
	})
}

func headerSafe(v string) bool {
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
