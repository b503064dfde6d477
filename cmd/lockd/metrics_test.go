package main_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsEndpoint(t *testing.T) {
	maddr := freePort(t)
	p := startLockd(t, "--store", "mem://", "--metrics-listen", maddr)
	if _, err := acquireKey(p.URL, "m"); err != nil {
		t.Fatal(err)
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond) // the listener starts right after the server
	}
	for _, want := range []string{`lockd_http_requests_total{route="acquire",status="200"} 1`, "lockd_key_actors_live", `lockd_http_request_duration_seconds_bucket{route="acquire"`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%.2000s", want, body)
		}
	}
}
