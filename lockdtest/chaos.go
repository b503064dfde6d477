package lockdtest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ChaosConfig describes what the chaos proxy does to the bytes it
// forwards, chunk by chunk, in both directions. The zero value forwards
// faithfully.
type ChaosConfig struct {
	// Seed seeds the proxy's random choices (0: a random seed).
	Seed int64
	// MinDelay and MaxDelay bound the latency added before each chunk is
	// forwarded (uniform in [MinDelay, MaxDelay]; both zero: none).
	MinDelay, MaxDelay time.Duration
	// DropProbability is the chance (0–1) that a chunk is not forwarded.
	DropProbability float64
	// ResetProbability is the chance (0–1), per chunk, that both
	// connections are reset.
	ResetProbability float64
	// DisconnectAfter closes a connection pair this long after it was
	// accepted (0: never).
	DisconnectAfter time.Duration
	// MaxDisconnects bounds how many connections DisconnectAfter closes
	// in all (0: every one).
	MaxDisconnects int
	// BandwidthBytesPerSecond limits each direction of each connection
	// (0: unlimited).
	BandwidthBytesPerSecond int64
	// ChunkSize is the largest read forwarded as one chunk (default 32
	// KiB).
	ChunkSize int
}

// ChaosProxy is a loopback TCP proxy that applies a ChaosConfig between
// its clients and one target address. Close stops it and cuts every
// connection.
type ChaosProxy struct {
	ln     net.Listener
	target string
	cfg    ChaosConfig

	rngMu sync.Mutex
	rng   *rand.Rand

	reserved    atomic.Int64 // disconnects promised to connections
	disconnects atomic.Int64 // disconnects done
	mu          sync.Mutex
	conns       map[net.Conn]struct{}
	closed      bool
	wg          sync.WaitGroup
}

// NewChaosProxy listens on a fresh loopback port and forwards each
// connection to target (host:port) under cfg.
func NewChaosProxy(target string, cfg ChaosConfig) (*ChaosProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 32 << 10
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	p := &ChaosProxy{ln: ln, target: target, cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *ChaosProxy) Addr() net.Addr { return p.ln.Addr() }

// Disconnects is how many connections DisconnectAfter has closed so far.
func (p *ChaosProxy) Disconnects() int { return int(p.disconnects.Load()) }

// Close stops accepting, cuts every connection and waits for the
// forwarding goroutines.
func (p *ChaosProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *ChaosProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// track registers conns so Close can cut them; false when closed.
func (p *ChaosProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *ChaosProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *ChaosProxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client, server)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	cut := func(reset bool) {
		once.Do(func() {
			cancel()
			if reset {
				for _, c := range []net.Conn{client, server} {
					if tc, ok := c.(*net.TCPConn); ok {
						tc.SetLinger(0) // RST instead of FIN
					}
				}
			}
			client.Close()
			server.Close()
		})
	}
	if d := p.cfg.DisconnectAfter; d > 0 && p.takeDisconnect() {
		t := time.AfterFunc(d, func() {
			cut(true)
			p.disconnects.Add(1) // after: a caller that sees it sees both ends closed
		})
		defer t.Stop()
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(ctx, server, client, cut); done <- struct{}{} }()
	go func() { p.pipe(ctx, client, server, cut); done <- struct{}{} }()
	<-done
	// One direction ended (EOF or error): end the other too.
	cut(false)
	<-done
}

// takeDisconnect reports whether this connection may be disconnected
// under MaxDisconnects, counting it.
func (p *ChaosProxy) takeDisconnect() bool {
	for {
		n := p.reserved.Load()
		if p.cfg.MaxDisconnects > 0 && n >= int64(p.cfg.MaxDisconnects) {
			return false
		}
		if p.reserved.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// pipe forwards src to dst chunk by chunk under the chaos rules.
func (p *ChaosProxy) pipe(ctx context.Context, dst, src net.Conn, cut func(reset bool)) {
	chunk := p.cfg.ChunkSize
	var lim *rate.Limiter
	if bps := p.cfg.BandwidthBytesPerSecond; bps > 0 {
		if int64(chunk) > bps {
			chunk = int(bps)
		}
		lim = rate.NewLimiter(rate.Limit(bps), chunk)
	}
	buf := make([]byte, chunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.forward(ctx, dst, buf[:n], lim, cut) {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cut(false)
			}
			return
		}
	}
}

// forward applies reset, drop, delay and bandwidth to one chunk and
// writes it; false when the pair was cut.
func (p *ChaosProxy) forward(ctx context.Context, dst net.Conn, b []byte, lim *rate.Limiter, cut func(bool)) bool {
	reset, drop, delay := p.roll()
	if reset {
		cut(true)
		return false
	}
	if drop {
		return true
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	if lim != nil && lim.WaitN(ctx, len(b)) != nil {
		return false
	}
	if _, err := dst.Write(b); err != nil {
		cut(false)
		return false
	}
	return true
}

// roll draws this chunk's fate.
func (p *ChaosProxy) roll() (reset, drop bool, delay time.Duration) {
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	reset = p.cfg.ResetProbability > 0 && p.rng.Float64() < p.cfg.ResetProbability
	drop = p.cfg.DropProbability > 0 && p.rng.Float64() < p.cfg.DropProbability
	delay = p.cfg.MinDelay
	if span := p.cfg.MaxDelay - p.cfg.MinDelay; span > 0 {
		delay += time.Duration(p.rng.Int64N(int64(span) + 1))
	}
	return reset, drop, delay
}
