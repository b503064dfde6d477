package soak

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Chaos is the proxy's fault mode; the zero value forwards faithfully.
type Chaos struct {
	Name string `json:"name"`
	// Latency (plus up to Jitter) delays every chunk, both ways.
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	// DropConn closes this fraction of new connections at once.
	DropConn float64 `json:"drop_conn,omitempty"`
	// Reset aborts a connection (TCP RST) with this chance per chunk.
	Reset float64 `json:"reset,omitempty"`
	// StallRequest / StallResponse hold the client→server or
	// server→client bytes until the mode changes (one-way stalls: with
	// StallResponse the server applies requests whose answers never
	// arrive in time).
	StallRequest  bool `json:"stall_request,omitempty"`
	StallResponse bool `json:"stall_response,omitempty"`
}

// chaosModes are the modes fault windows draw from.
var chaosModes = []Chaos{
	{Name: "latency", Latency: 40 * time.Millisecond, Jitter: 80 * time.Millisecond},
	{Name: "reset", Reset: 0.03},
	{Name: "drop", DropConn: 0.5},
	{Name: "stall-response", StallResponse: true},
	{Name: "stall-request", StallRequest: true},
	{Name: "blackhole", StallRequest: true, StallResponse: true},
}

// Proxy is a TCP proxy on loopback in front of one upstream address (or
// several, taken in turn per connection: a round-robin load balancer),
// with injectable faults. Clients keep one address across server
// restarts.
type Proxy struct {
	ln net.Listener

	mu        sync.Mutex
	upstreams []string
	next      int
	mode      Chaos
	changed   chan struct{} // closed and replaced on every mode change
	rng       *rand.Rand
	conns     map[net.Conn]struct{}
	closed    bool
	stats     ProxyStats
}

// ProxyStats count what the proxy did.
type ProxyStats struct {
	Conns   int64 `json:"conns"`
	Dropped int64 `json:"dropped"`
	Resets  int64 `json:"resets"`
}

// NewProxy listens on a free loopback port.
func NewProxy(upstream string, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstreams: []string{upstream}, changed: make(chan struct{}), rng: newRand(seed, 0xC4A05),
		conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// SetUpstreams replaces the upstream addresses; new connections go to
// each in turn (round robin). Open connections stay where they are.
func (p *Proxy) SetUpstreams(addrs []string) {
	p.mu.Lock()
	p.upstreams = append([]string(nil), addrs...)
	p.mu.Unlock()
}

// Addr is the proxy's listen address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetChaos switches the fault mode; stalled bytes flow again when a
// mode without the stall begins.
func (p *Proxy) SetChaos(c Chaos) {
	p.mu.Lock()
	p.mode = c
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.ln.Close()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *Proxy) chance(f float64) bool {
	if f <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < f
}

func (p *Proxy) handle(client net.Conn) {
	p.mu.Lock()
	p.stats.Conns++
	mode, closed := p.mode, p.closed
	up := ""
	if len(p.upstreams) > 0 {
		up = p.upstreams[p.next%len(p.upstreams)]
		p.next++
	}
	p.mu.Unlock()
	if closed || up == "" || p.chance(mode.DropConn) {
		p.count(func(s *ProxyStats) { s.Dropped++ })
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", up, 2*time.Second)
	if err != nil {
		client.Close() // the server is down: the client sees the connection end
		return
	}
	if !p.track(client, server) {
		return
	}
	defer p.untrack(client, server)
	done := make(chan struct{}, 2)
	go func() { p.pump(client, server, false); done <- struct{}{} }()
	go func() { p.pump(server, client, true); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *Proxy) count(f func(*ProxyStats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// pump copies src to dst chunk by chunk, applying the current mode to
// each chunk. response is true for the server→client direction.
func (p *Proxy) pump(src, dst net.Conn, response bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			mode, ok := p.gate(response)
			if !ok {
				return
			}
			if p.chance(mode.Reset) {
				p.count(func(s *ProxyStats) { s.Resets++ })
				reset(src)
				reset(dst)
				return
			}
			if mode.Latency > 0 {
				d := mode.Latency
				if mode.Jitter > 0 {
					p.mu.Lock()
					d += time.Duration(p.rng.Int64N(int64(mode.Jitter)))
					p.mu.Unlock()
				}
				time.Sleep(d) // the injected latency
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					return
				}
			}
			return
		}
	}
}

// gate holds a chunk while its direction is stalled; it returns the mode
// to apply once the chunk may go, or false when the proxy closed.
func (p *Proxy) gate(response bool) (Chaos, bool) {
	for range 1_000_000 { // each turn waits for a mode change
		p.mu.Lock()
		mode, changed, closed := p.mode, p.changed, p.closed
		p.mu.Unlock()
		if closed {
			return mode, false
		}
		if !(response && mode.StallResponse) && !(!response && mode.StallRequest) {
			return mode, true
		}
		<-changed
	}
	return Chaos{}, false
}

// reset aborts a connection with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
