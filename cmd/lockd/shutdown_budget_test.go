package main_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testservers"
)

// holeProxy relays TCP to target until cut; from then on it relays
// nothing in either direction and holds every connection open, like a
// network path that drops packets.
type holeProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newHoleProxy(t *testing.T, target string) *holeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holeProxy{ln: ln, target: target}
	t.Cleanup(p.close)
	go p.serve()
	return p
}

func (p *holeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.hold(c)
		if p.cut.Load() {
			continue // accepted, never answered
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.hold(up)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

func (p *holeProxy) hold(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst until the proxy is cut, then swallows src.
func (p *holeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.cut.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

func (p *holeProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// A server whose store stops answering still stops within
// --shutdown-timeout of SIGTERM: a teardown step that waits on the store
// (an actor in the middle of a write) is left undone rather than
// overrunning the budget an operator and a supervisor count on. What it
// acknowledged before is durable (the kill -9 tests cover that).
func TestShutdownKeepsItsBudgetWhenTheStoreHangs(t *testing.T) {
	endpoint, access, secret, bucket := testservers.StartS3(t)
	hole := newHoleProxy(t, strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://"))
	url := fmt.Sprintf("s3://%s/%s/budget?insecure=1", hole.ln.Addr(), bucket)
	env := []string{"LOCKD_S3_ACCESS_KEY_ID=" + access, "LOCKD_S3_SECRET_ACCESS_KEY=" + secret}
	const budget = 3 * time.Second
	p := startLockdEnv(t, env, "--store", url, "--shutdown-timeout", budget.String())
	h, err := acquireKey(p.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.update(p.URL, `{"n":1}`); err != nil {
		t.Fatal(err)
	}
	hole.cut.Store(true)
	go h.release(p.URL) // its store write hangs: the key's actor is busy in it
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
		t.Logf("stopped %v after SIGTERM (budget %v)", time.Since(start).Round(10*time.Millisecond), budget)
		over := p.logLines("shutdown did not finish within its budget")
		if len(over) != 1 || !strings.Contains(over[0], `"step":"`) {
			t.Errorf("no log line says the budget was exceeded and where; shutdown log: %q", p.logLines("shutdown"))
		}
		t.Log(over)
	case <-time.After(budget + 2*time.Second):
		t.Fatalf("lockd still running %v after SIGTERM with a %v shutdown budget", budget+2*time.Second, budget)
	}
}
