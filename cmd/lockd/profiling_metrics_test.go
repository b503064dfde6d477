package main_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// --enable-profiling-metrics adds the Go runtime and process metrics.
func TestProfilingMetricsFlag(t *testing.T) {
	for _, on := range []bool{false, true} {
		maddr := freePort(t)
		args := []string{"--store", "mem://", "--metrics-listen", maddr}
		if on {
			args = append(args, "--enable-profiling-metrics")
		}
		p := startLockd(t, args...)
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
		if got := strings.Contains(body, "go_goroutines"); got != on {
			t.Errorf("--enable-profiling-metrics=%v: go_goroutines exported=%v", on, got)
		}
		p.stop(t)
	}
}
