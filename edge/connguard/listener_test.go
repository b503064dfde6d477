package connguard

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// echoServer answers each line with "ok <line>" on connections accepted
// through ln.
func echoServer(t *testing.T, ln net.Listener) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					io.WriteString(c, "ok "+sc.Text()+"\n")
				}
			}()
		}
	}()
}

func guarded(t *testing.T, cfg Config, probe bool) (*Guard, *clock.Fake, string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	g := New(cfg, clk, zerolog.Nop())
	echoServer(t, g.Listener(raw, probe))
	return g, clk, raw.Addr().String()
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// roundTrip sends one line from src and reports whether it was answered.
func roundTrip(t *testing.T, src, addr, line string) bool {
	t.Helper()
	c := dialFrom(t, src, addr)
	defer c.Close()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return false
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	if got != "ok "+line+"\n" {
		t.Fatalf("answer %q to %q: the probe consumed or reordered bytes", got, line)
	}
	return true
}

// waitFor polls cond for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (g *Guard) failures(ip string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.ips[netip.MustParseAddr(ip)]; r != nil {
		return len(r.failures)
	}
	return 0
}

func TestListenerBlocksZeroByteProbes(t *testing.T) {
	cfg := Config{Enabled: true, FailureThreshold: 3, FailureWindow: time.Minute, BlockDuration: time.Minute, ProbeTimeout: 10 * time.Second}
	g, clk, addr := guarded(t, cfg, true)
	bad, good := netip.MustParseAddr("127.0.0.2"), "127.0.0.3"
	if !roundTrip(t, bad.String(), addr, "before") {
		t.Fatal("a fresh source was refused")
	}
	for i := 0; i < 3; i++ {
		dialFrom(t, bad.String(), addr).Close() // connect, send nothing, hang up
	}
	waitFor(t, "the prober to be blocked", func() bool { return g.Blocked(bad) })
	if roundTrip(t, bad.String(), addr, "while blocked") {
		t.Fatal("a blocked source was served")
	}
	if !roundTrip(t, good, addr, "other source") {
		t.Fatal("another source was refused while one was blocked")
	}
	clk.Advance(time.Minute)
	if !roundTrip(t, bad.String(), addr, "after expiry") {
		t.Fatal("the source was still refused after its block expired")
	}
}

func TestListenerSlowFirstByteIsSuspiciousButServed(t *testing.T) {
	cfg := Config{Enabled: true, FailureThreshold: 100, ProbeTimeout: 50 * time.Millisecond}
	g, _, addr := guarded(t, cfg, true)
	c := dialFrom(t, "127.0.0.4", addr)
	defer c.Close()
	waitFor(t, "the probe to time out", func() bool { return g.failures("127.0.0.4") == 1 })
	io.WriteString(c, "late\n")
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "ok late\n" {
		t.Fatalf("slow client: %q %v", got, err)
	}
}

func TestListenerWithoutProbeOnlyEnforcesBlocks(t *testing.T) {
	cfg := Config{Enabled: true, FailureThreshold: 2, BlockDuration: time.Minute, ProbeTimeout: 10 * time.Second}
	g, _, addr := guarded(t, cfg, false) // as under TLS: the handshake reports
	for i := 0; i < 5; i++ {
		dialFrom(t, "127.0.0.5", addr).Close()
	}
	if !roundTrip(t, "127.0.0.5", addr, "unprobed") {
		t.Fatal("an unprobed listener judged a connection")
	}
	g.SuspiciousConn(&net.TCPAddr{IP: net.ParseIP("127.0.0.5"), Port: 1}, "tls_handshake")
	g.SuspiciousConn(&net.TCPAddr{IP: net.ParseIP("127.0.0.5"), Port: 2}, "tls_handshake")
	if roundTrip(t, "127.0.0.5", addr, "blocked") {
		t.Fatal("handshake failures reported by the TLS layer did not block")
	}
}

func TestDisabledGuardIsTransparent(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if ln := New(Config{}, nil, zerolog.Nop()).Listener(raw, true); ln != raw {
		t.Fatal("a disabled guard wrapped the listener")
	}
	unix, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	if ln := New(Defaults(), nil, zerolog.Nop()).Listener(unix, true); ln != unix {
		t.Fatal("a unix listener was wrapped")
	}
}
