package testcluster

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Balancer is a TCP load balancer on loopback: each new connection goes to
// the next backend in turn (round robin), and bytes are copied both ways
// until either side closes. It is what users put in front of a cluster.
type Balancer struct {
	ln   net.Listener
	next atomic.Uint64

	mu       sync.Mutex
	backends []string
	conns    map[net.Conn]struct{}
	closed   bool
}

// NewBalancer listens on 127.0.0.1:0 in front of backends (host:port).
func NewBalancer(backends []string) (*Balancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Balancer{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	go b.serve()
	return b, nil
}

// Addr is the balancer's address.
func (b *Balancer) Addr() net.Addr { return b.ln.Addr() }

// URL is the balancer's plain-HTTP base URL.
func (b *Balancer) URL() string { return "http://" + b.ln.Addr().String() }

// SetBackends replaces the backends (a node left or joined).
func (b *Balancer) SetBackends(backends []string) {
	b.mu.Lock()
	b.backends = backends
	b.mu.Unlock()
}

// Close stops accepting and closes every open connection.
func (b *Balancer) Close() error {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	return b.ln.Close()
}

func (b *Balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.handle(c)
	}
}

func (b *Balancer) pick() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.backends) == 0 {
		return ""
	}
	return b.backends[int(b.next.Add(1)-1)%len(b.backends)]
}

func (b *Balancer) handle(client net.Conn) {
	addr := b.pick()
	if addr == "" {
		client.Close()
		return
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		client.Close()
		return
	}
	if !b.track(client, up) {
		return
	}
	defer b.untrack(client, up)
	done := make(chan struct{}, 2)
	pump := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Half-close: the other direction may still be answering.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pump(up, client)
	go pump(client, up)
	<-done
	<-done
}

func (b *Balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *Balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(b.conns, c)
	}
}
