package main_test

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// When a write cannot be synced (here: the server may not grow any file,
// as on a full disk), the release must not answer 200, and the server
// stops instead of serving state a restart would lose. After the restart
// only what was acknowledged is there.
func TestFailedSyncStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	p := startLockd(t, "--store", "disk://"+dir)
	h, err := acquireKey(p.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	h.update(p.URL, `{"v":1}`)
	if err := h.release(p.URL); err != nil {
		t.Fatal(err)
	}
	h, err = acquireKey(p.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.update(p.URL, `{"v":2}`); err != nil {
		t.Fatal(err)
	}
	pid := p.cmd.Process.Pid
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 0, Max: unix.RLIM_INFINITY}, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	if err := h.release(p.URL); err == nil {
		t.Fatal("a release whose write could not be synced answered 200")
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 75 {
			t.Fatalf("server exit: %v (want status 75)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the server kept serving after a failed sync")
	}
	p = startLockd(t, "--store", "disk://"+dir)
	st, body, _ := post(p.URL, "/v1/get?public=1&key=k", nil)
	if st != 200 || string(body) != `{"v":1}` {
		t.Fatalf("after restart: %d %s (want the acknowledged {\"v\":1})", st, body)
	}
}
