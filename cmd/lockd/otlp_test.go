package main_test

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/telemetry/otlptest"
)

// The lockd binary with --otlp-endpoint exports its request spans to a
// collector on loopback; they are flushed on SIGTERM at the latest.
func TestProcessExportsOTLPTraces(t *testing.T) {
	for _, tc := range []struct {
		name string
		recv func(testing.TB) *otlptest.Receiver
		url  func(string) string
	}{
		{"grpc", otlptest.GRPC, func(a string) string { return a }},
		{"http", otlptest.HTTP, func(a string) string { return "http://" + a }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.recv(t)
			p := startLockd(t, "--store", "mem://", "--otlp-endpoint", tc.url(r.Addr))
			if _, err := acquireKey(p.URL, "traced"); err != nil {
				t.Fatal(err)
			}
			p.stop(t)
			spans, ok := r.WaitFor(10*time.Second, func(s []otlptest.Span) bool {
				var http, actor, st bool
				for _, x := range s {
					http = http || x.Name == "POST /v1/acquire"
					actor = actor || x.Name == "actor.handoff"
					st = st || strings.HasPrefix(x.Name, "store.")
				}
				return http && actor && st
			})
			if !ok {
				t.Fatalf("spans received: %+v\nlockd's log:\n%s", spans, strings.Join(p.logLines(""), "\n"))
			}
		})
	}
}

// SIGTERM is lockd's to handle from before the server starts: one that
// arrives as soon as lockd logs that it serves gets a graceful shutdown
// (exit 0), and one that arrives while it is still starting (here: as soon
// as the trace exporter is up) ends it at once, or, if the start won the
// race, gracefully. Never the signal's default action, which killed the
// process with its spans unexported.
func TestSIGTERMIsHandledFromStartup(t *testing.T) {
	for _, tc := range []struct{ name, at string }{
		{"once serving", `"lockd serving"`},
		{"while starting", `"exporting traces"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := otlptest.HTTP(t)
			cmd, stderr := spawnLockd(t, nil, "--store", "mem://", "--otlp-endpoint", "http://"+r.Addr)
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var logs []string
			timeout := time.After(30 * time.Second)
			signalled := false
		read:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						break read
					}
					logs = append(logs, l)
					if !signalled && strings.Contains(l, tc.at) {
						cmd.Process.Signal(syscall.SIGTERM)
						signalled = true
					}
				case <-timeout:
					t.Fatalf("lockd did not exit within 30 s; log:\n%s", strings.Join(logs, "\n"))
				}
			}
			all := strings.Join(logs, "\n")
			if !signalled {
				t.Fatalf("lockd never logged %s; log:\n%s", tc.at, all)
			}
			err := cmd.Wait()
			switch {
			case err == nil && strings.Contains(all, `"stopped"`):
				// served, then shut down gracefully
			case err != nil && tc.name == "while starting" && strings.Contains(all, "signal while starting; exiting before serving"):
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
					t.Fatalf("lockd exit: %v, want status 1; log:\n%s", err, all)
				}
			default:
				t.Fatalf("lockd exit: %v, want a graceful shutdown (or, while starting, an exit before serving); log:\n%s", err, all)
			}
		})
	}
}
