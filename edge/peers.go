package edge

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Connections to the other nodes, for forwarded requests. A pool per
// endpoint keeps idle keep-alive connections; a connection is taken for
// one request and its whole response, and returned only when the response
// was read to its end. Requests and responses are fasthttp's, written and
// read over these connections directly (not through fasthttp's clients),
// because a forwarded request must be cancellable: when its client goes
// away, the connection to the owner is closed, so the owner withdraws the
// blocked acquire or dequeue too.

const (
	peerDialTimeout = 3 * time.Second
	peerMaxIdle     = 128
	// peerIdleMax is how long an idle connection is kept: well below the
	// server's keep-alive timeout (2m), so the pool rarely hands out a
	// connection the other side is closing.
	peerIdleMax = time.Minute
)

// peers holds a pool per node endpoint.
type peers struct {
	tls   *tls.Config // nil: plain HTTP
	self  string      // this node's id, sent as HeaderForwardedBy
	mu    sync.Mutex
	pools map[string]*peerPool
	muxes map[string]*muxPeer
}

func newPeers(tlsCfg *tls.Config, self string) *peers {
	return &peers{tls: tlsCfg, self: self, pools: map[string]*peerPool{}, muxes: map[string]*muxPeer{}}
}

// mux returns the multiplexed connections to endpoint (mux.go).
func (p *peers) mux(endpoint string, pool *peerPool, log zerolog.Logger) *muxPeer {
	p.mu.Lock()
	defer p.mu.Unlock()
	mp, ok := p.muxes[endpoint]
	if !ok {
		mp = &muxPeer{pool: pool, self: p.self, log: log}
		p.muxes[endpoint] = mp
	}
	return mp
}

func (p *peers) pool(endpoint string) (*peerPool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pp, ok := p.pools[endpoint]; ok {
		return pp, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("edge: node endpoint %q: not a URL", endpoint)
	}
	pp := &peerPool{addr: u.Host}
	if u.Scheme == "https" {
		if p.tls == nil {
			return nil, fmt.Errorf("edge: node endpoint %q is https but this node has no TLS client configuration", endpoint)
		}
		pp.tls = p.tls
	}
	p.pools[endpoint] = pp
	return pp, nil
}

func (p *peers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pools {
		pp.closeIdle()
	}
	for _, mp := range p.muxes {
		mp.close()
	}
}

// peerPool is the idle connections to one node.
type peerPool struct {
	// inflight counts the forwards to the node in progress (forward.go).
	inflight atomic.Int64
	addr     string
	tls      *tls.Config
	mu       sync.Mutex
	idle     []*peerConnUp
}

// peerConnUp is a connection to another node.
type peerConnUp struct {
	conn net.Conn
	raw  syscall.RawConn // the TCP socket under any TLS, for the liveness peek
	br   *bufio.Reader
	bw   *bufio.Writer
	used time.Time
}

func (u *peerConnUp) close() { u.conn.Close() }

// peerFresh is how recently a pooled connection must have finished its
// last response for get to trust it without peeking (trust: a request
// that can be sent again).
const peerFresh = time.Second

// get returns an idle connection that is still open, or dials a new one;
// reused tells which. trust skips the liveness peek on a connection used
// within peerFresh: the caller sends again on another connection if it
// turns out closed.
func (p *peerPool) get(trust bool) (u *peerConnUp, reused bool, err error) {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		u = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := now.Sub(u.used)
		if trust && idle < peerFresh && u.br.Buffered() == 0 {
			return u, true, nil
		}
		if idle < peerIdleMax && u.open() {
			return u, true, nil
		}
		u.close()
	}
	u, err = p.dial()
	return u, false, err
}

func (p *peerPool) dial() (*peerConnUp, error) {
	d := net.Dialer{Timeout: peerDialTimeout, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", p.addr)
	if err != nil {
		return nil, err
	}
	u := &peerConnUp{conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		u.raw, _ = sc.SyscallConn()
	}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		tc.SetDeadline(time.Now().Add(peerDialTimeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		u.conn = tc
	}
	u.br = bufio.NewReaderSize(u.conn, 16<<10)
	u.bw = bufio.NewWriterSize(u.conn, 16<<10)
	return u, nil
}

// put returns a connection whose last response was read to its end.
func (p *peerPool) put(u *peerConnUp) {
	u.used = time.Now()
	p.mu.Lock()
	if len(p.idle) < peerMaxIdle {
		p.idle = append(p.idle, u)
		u = nil
	}
	p.mu.Unlock()
	if u != nil {
		u.close()
	}
}

func (p *peerPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, u := range idle {
		u.close()
	}
}

// open peeks at an idle connection without blocking: readable (EOF, a
// reset, a TLS close_notify or stray bytes) means the other side is done
// with it.
func (u *peerConnUp) open() bool {
	if u.br.Buffered() > 0 {
		return false
	}
	if u.raw == nil {
		return true
	}
	alive := false
	err := u.raw.Read(func(fd uintptr) bool {
		alive = peekSocket(fd) == sockEmpty
		return true
	})
	return err == nil && alive
}
