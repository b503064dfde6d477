package gossiprelay

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoNode is a node on host that echoes UDP packets back to their
// sender and TCP lines back on their stream.
func echoNode(t *testing.T, host string) string {
	t.Helper()
	tl, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := tl.Addr().(*net.TCPAddr).Port
	ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close(); ul.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := ul.ReadFromUDP(buf)
			if err != nil {
				return
			}
			ul.WriteToUDP(buf[:n], from)
		}
	}()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	return tl.Addr().String()
}

// client is a peer on host: its packets and streams leave from host.
func client(t *testing.T, host string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// udpRoundTrip sends msg through the relay and reports whether its echo
// came back within wait.
func udpRoundTrip(t *testing.T, c *net.UDPConn, relay, msg string, wait time.Duration) bool {
	t.Helper()
	ra, _ := net.ResolveUDPAddr("udp", relay)
	if _, err := c.WriteToUDP([]byte(msg), ra); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false
			}
			t.Fatal(err)
		}
		if string(buf[:n]) == msg {
			return true
		}
	}
}

func dialFrom(host, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}
	return d.Dial("tcp", addr)
}

// tcpRoundTrip opens a stream from host through the relay and reports
// whether a line comes back within wait.
func tcpRoundTrip(t *testing.T, host, relay string, wait time.Duration) bool {
	t.Helper()
	c, err := dialFrom(host, relay)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

// Packets and streams pass the relay both ways; cutting either the
// sender's host or the node's host stops both, and closes the streams
// open at that moment; reconnecting lets them pass again.
func TestRelayCutsBothWays(t *testing.T) {
	const nodeHost, peerHost = "127.0.0.21", "127.0.0.22"
	n := NewNet()
	target := echoNode(t, nodeHost)
	r, err := Start(n, "127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := client(t, peerHost)
	if !udpRoundTrip(t, c, r.Addr(), "a", 2*time.Second) || !tcpRoundTrip(t, peerHost, r.Addr(), 2*time.Second) {
		t.Fatal("no round trip through the relay")
	}
	open, err := dialFrom(peerHost, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.Write([]byte("x\n"))
	br := bufio.NewReader(open)
	open.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []string{peerHost, nodeHost} {
		n.Cut(cut, true)
		if udpRoundTrip(t, c, r.Addr(), "b-"+cut, 300*time.Millisecond) {
			t.Fatalf("a packet passed while %s was cut", cut)
		}
		if tcpRoundTrip(t, peerHost, r.Addr(), 300*time.Millisecond) {
			t.Fatalf("a stream passed while %s was cut", cut)
		}
		if cut == peerHost {
			open.SetDeadline(time.Now().Add(2 * time.Second))
			open.Write([]byte("y\n"))
			if line, err := br.ReadString('\n'); err == nil {
				t.Fatalf("an open stream still carried %q after the cut", line)
			}
		}
		n.Cut(cut, false)
		if !udpRoundTrip(t, c, r.Addr(), "c-"+cut, 2*time.Second) || !tcpRoundTrip(t, peerHost, r.Addr(), 2*time.Second) {
			t.Fatalf("no round trip after %s was reconnected", cut)
		}
	}
	// A host not cut is not affected by another's cut.
	n.Cut("127.0.0.23", true)
	if !udpRoundTrip(t, c, r.Addr(), "d", 2*time.Second) {
		t.Fatal("a cut of an unrelated host dropped a packet")
	}
}

// Replies the node sends to the relay's session address reach the
// original sender; Close ends the relay and its goroutines.
func TestRelayClose(t *testing.T) {
	n := NewNet()
	r, err := Start(n, "127.0.0.1:0", echoNode(t, "127.0.0.24"))
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, "127.0.0.25")
	if !udpRoundTrip(t, c, r.Addr(), "x", 2*time.Second) {
		t.Fatal("no round trip")
	}
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := dialFrom("127.0.0.25", r.Addr()); err == nil {
		t.Fatal("the relay still accepts streams after Close")
	}
}
