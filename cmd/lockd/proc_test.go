package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var lockdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lockd-bin-")
	if err != nil {
		panic(err)
	}
	lockdBin = filepath.Join(dir, "lockd")
	out, err := exec.Command("go", "build", "-o", lockdBin, ".").CombinedOutput()
	if err != nil {
		panic("build lockd: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a lockd server running as a child process.
type proc struct {
	cmd *exec.Cmd
	URL string

	mu   sync.Mutex
	logs []string // the last lines of its log, for a test's report
}

// logLines returns the retained log lines that contain substr.
func (p *proc) logLines(substr string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.logs {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// startLockd runs the binary on a free loopback port and waits until it
// logs that it serves.
func startLockd(t *testing.T, args ...string) *proc {
	t.Helper()
	return startLockdEnv(t, nil, args...)
}

// spawnLockd starts the binary on a free loopback port and returns it
// with its log (stderr); it does not wait for anything.
func spawnLockd(t *testing.T, env []string, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	// Plain HTTP unless a test asks for mTLS (--disable-mtls=false).
	cmd := exec.Command(lockdBin, append([]string{"--listen", "127.0.0.1:0", "--drain-grace", "0s", "--disable-mtls"}, args...)...)
	// No configuration file from the machine's $HOME/.lockd unless asked.
	cmd.Env = append(append(os.Environ(), "LOCKD_CONFIG="), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stderr
}

// startLockdEnv is startLockd with extra environment variables.
func startLockdEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd, stderr := spawnLockd(t, env, args...)
	p := &proc{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			if p.logs = append(p.logs, sc.Text()); len(p.logs) > 200 {
				p.logs = p.logs[len(p.logs)-200:]
			}
			p.mu.Unlock()
			var line struct {
				Message string `json:"message"`
				Listen  string `json:"listen"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "lockd serving" {
				ready <- line.Listen
			}
		}
	}()
	select {
	case addr := <-ready:
		p.URL = "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatal("lockd did not start")
	}
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		// lockd handles SIGTERM from before it starts serving: anything
		// but a clean exit is a failed shutdown.
		if err != nil {
			p.mu.Lock()
			logs := strings.Join(p.logs, "\n")
			p.mu.Unlock()
			t.Fatalf("lockd exit: %v; log:\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lockd did not stop on SIGTERM")
	}
}
