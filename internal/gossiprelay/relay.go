package gossiprelay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Relay forwards UDP packets and TCP streams that arrive on one port (as
// memberlist uses one port for both) to one node's gossip address.
type Relay struct {
	net    *Net
	target string
	udp    *net.UDPConn
	tcp    *net.TCPListener

	mu       sync.Mutex
	sessions map[string]*session // by sender address
	streams  map[*stream]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// sessionIdle is how long a UDP session without traffic is kept.
const sessionIdle = time.Minute

// dialTimeout bounds the relay's connect to the node.
const dialTimeout = 2 * time.Second

// Start listens on listen (host:port; port 0 picks one free for both UDP
// and TCP) and relays to target, the node's gossip bind address. Close
// stops it.
func Start(n *Net, listen, target string) (*Relay, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("gossiprelay: target %q: %w", target, err)
	}
	r := &Relay{net: n, target: target, sessions: map[string]*session{}, streams: map[*stream]struct{}{}}
	if err := r.listen(listen); err != nil {
		return nil, err
	}
	n.add(r)
	r.wg.Add(2)
	go r.servePackets()
	go r.serveStreams()
	return r, nil
}

// listen binds TCP and UDP on the same port, retrying a few ports when
// the one the kernel gave TCP is taken for UDP.
func (r *Relay) listen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("gossiprelay: listen %q: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 10
	}
	for range tries {
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("gossiprelay: %w", err)
		}
		p := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			tl.Close()
			continue
		}
		r.tcp, r.udp = tl.(*net.TCPListener), ul.(*net.UDPConn)
		return nil
	}
	return fmt.Errorf("gossiprelay: no port free for both UDP and TCP on %s", host)
}

// Addr is the relay's address (the node's advertised gossip address).
func (r *Relay) Addr() string { return r.tcp.Addr().String() }

// Target is the node's gossip address the relay forwards to.
func (r *Relay) Target() string { return r.target }

// Close stops the relay and closes its sessions and streams.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for _, s := range r.sessions {
		s.up.Close()
	}
	for s := range r.streams {
		s.close()
	}
	r.mu.Unlock()
	r.net.remove(r)
	err := errors.Join(r.udp.Close(), r.tcp.Close())
	r.wg.Wait()
	return err
}

// session is one UDP sender's socket towards the node, so the node's
// replies to it find their way back.
type session struct {
	from *net.UDPAddr
	up   *net.UDPConn
}

func (r *Relay) servePackets() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if r.net.blocked(from.String(), r.target) {
			continue
		}
		s, err := r.session(from)
		if err != nil {
			continue // the node is gone: a lost packet, as on a network
		}
		s.up.Write(buf[:n]) // UDP: a failed write is a lost packet
	}
}

// session returns the sender's session, starting it when new.
func (r *Relay) session(from *net.UDPAddr) (*session, error) {
	key := from.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, net.ErrClosed
	}
	if s, ok := r.sessions[key]; ok {
		return s, nil
	}
	raddr, err := net.ResolveUDPAddr("udp", r.target)
	if err != nil {
		return nil, err
	}
	up, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	s := &session{from: from, up: up}
	r.sessions[key] = s
	r.wg.Add(1)
	go r.replies(key, s)
	return s, nil
}

// replies relays the node's packets on a session back to its sender,
// until the session is idle for sessionIdle.
func (r *Relay) replies(key string, s *session) {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		s.up.SetReadDeadline(time.Now().Add(sessionIdle))
		n, err := s.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !ne.Timeout() && !errors.Is(err, net.ErrClosed) {
				continue // ICMP unreachable from a node that is down
			}
			r.mu.Lock()
			if r.sessions[key] == s {
				delete(r.sessions, key)
			}
			r.mu.Unlock()
			s.up.Close()
			return
		}
		if r.net.blocked(key, r.target) {
			continue
		}
		r.udp.WriteToUDP(buf[:n], s.from)
	}
}

// stream is one relayed TCP connection.
type stream struct {
	from      string // the connecting side's host
	down, up  net.Conn
	closeOnce sync.Once
}

func (s *stream) close() {
	s.closeOnce.Do(func() {
		s.down.Close()
		s.up.Close()
	})
}

func (r *Relay) serveStreams() {
	defer r.wg.Done()
	for {
		c, err := r.tcp.Accept()
		if err != nil {
			return
		}
		if r.net.blocked(c.RemoteAddr().String(), r.target) {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go r.relayStream(c)
	}
}

func (r *Relay) relayStream(down net.Conn) {
	defer r.wg.Done()
	up, err := net.DialTimeout("tcp", r.target, dialTimeout)
	if err != nil {
		down.Close()
		return
	}
	s := &stream{from: hostOf(down.RemoteAddr().String()), down: down, up: up}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		s.close()
		return
	}
	r.streams[s] = struct{}{}
	r.mu.Unlock()
	// A cut that began between the accept and now has not seen this
	// stream: look again now that it is registered.
	if r.net.blocked(down.RemoteAddr().String(), r.target) {
		s.close()
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, down)
		s.close()
		close(done)
	}()
	io.Copy(down, up)
	s.close()
	<-done
	r.mu.Lock()
	delete(r.streams, s)
	r.mu.Unlock()
}

// closeStreams closes the streams that involve host.
func (r *Relay) closeStreams(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := hostOf(r.target) == host
	for s := range r.streams {
		if all || s.from == host {
			s.close()
		}
	}
}

// FreePort returns a port on host that was free for both TCP and UDP a
// moment ago (memberlist binds both on one port), for a node's
// --cluster-listen behind a relay.
func FreePort(host string) (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, fmt.Errorf("gossiprelay: host %s: %w", host, err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		l.Close()
		if err == nil {
			u.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("gossiprelay: no port free for both UDP and TCP on %s", host)
}
