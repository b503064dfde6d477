package connguard

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// lockd v0.9's defaults.
const (
	DefaultFailureThreshold = 5
	DefaultFailureWindow    = 30 * time.Second
	DefaultBlockDuration    = 5 * time.Minute
	DefaultProbeTimeout     = 250 * time.Millisecond
	defaultMaxTracked       = 1 << 16
	defaultMaxProbes        = 1024
)

// Config configures the guard. The zero Config is off; Defaults returns
// lockd v0.9's defaults, on.
type Config struct {
	Enabled bool
	// FailureThreshold suspicious connections within FailureWindow block
	// the source for BlockDuration.
	FailureThreshold int
	FailureWindow    time.Duration
	BlockDuration    time.Duration
	// ProbeTimeout is how long a plain-TCP connection may take to send its
	// first byte before it counts as suspicious; 0 disables probing (TLS
	// listeners never probe: the handshake is the probe).
	ProbeTimeout time.Duration
	// MaxTracked bounds the addresses remembered (default 65536);
	// MaxProbes the probes running at once (default 1024).
	MaxTracked int
	MaxProbes  int
}

// Defaults returns lockd v0.9's defaults, enabled.
func Defaults() Config {
	return Config{Enabled: true, FailureThreshold: DefaultFailureThreshold, FailureWindow: DefaultFailureWindow,
		BlockDuration: DefaultBlockDuration, ProbeTimeout: DefaultProbeTimeout}
}

func (c Config) normalized() Config {
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = DefaultFailureWindow
	}
	if c.BlockDuration <= 0 {
		c.BlockDuration = DefaultBlockDuration
	}
	if c.ProbeTimeout < 0 {
		c.ProbeTimeout = 0
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = defaultMaxTracked
	}
	if c.MaxProbes <= 0 {
		c.MaxProbes = defaultMaxProbes
	}
	return c
}

// Guard counts suspicious connections per source address and decides
// blocks. It is safe for concurrent use.
type Guard struct {
	cfg   Config
	clock clock.Clock
	log   zerolog.Logger

	mu  sync.Mutex
	ips map[netip.Addr]*record
}

// record is one address's recent failures (oldest first, at most
// FailureThreshold) and the end of its block.
type record struct {
	failures     []time.Time
	blockedUntil time.Time
}

// New returns a guard; a nil clock is the wall clock.
func New(cfg Config, clk clock.Clock, log zerolog.Logger) *Guard {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Guard{cfg: cfg.normalized(), clock: clk, ips: map[netip.Addr]*record{},
		log: log.With().Str("sys", "control.connguard").Logger()}
}

// Config returns the normalized configuration.
func (g *Guard) Config() Config { return g.cfg }

// Blocked reports whether ip is blocked now; a block that has expired is
// lifted (and logged) here.
func (g *Guard) Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	now := g.clock.Now()
	g.mu.Lock()
	r := g.ips[ip]
	if r == nil || r.blockedUntil.IsZero() {
		g.mu.Unlock()
		return false
	}
	if now.Before(r.blockedUntil) {
		g.mu.Unlock()
		return true
	}
	r.blockedUntil = time.Time{}
	if len(r.failures) == 0 {
		delete(g.ips, ip)
	}
	g.mu.Unlock()
	blockedIPs.Dec()
	g.log.Info().Str("event", "lockd.connguard.disengaged").Str("remote", ip.String()).Msg("connguard block expired")
	return false
}

// Suspicious records a suspicious connection from ip and reports whether
// ip is blocked now (by this event or before it).
func (g *Guard) Suspicious(ip netip.Addr, reason string) bool {
	ip = ip.Unmap()
	now := g.clock.Now()
	countSuspicious(reason)
	g.mu.Lock()
	r := g.ips[ip]
	if r == nil {
		if len(g.ips) >= g.cfg.MaxTracked {
			g.pruneLocked(now)
		}
		r = &record{}
		g.ips[ip] = r
	}
	if !r.blockedUntil.IsZero() && now.Before(r.blockedUntil) {
		g.mu.Unlock()
		return true
	}
	wasBlocked := !r.blockedUntil.IsZero()
	r.blockedUntil = time.Time{}
	cutoff := now.Add(-g.cfg.FailureWindow)
	keep := r.failures[:0]
	for _, t := range r.failures {
		if t.After(cutoff) {
			keep = append(keep, t)
		}
	}
	r.failures = append(keep, now)
	count := len(r.failures)
	block := count >= g.cfg.FailureThreshold
	if block {
		r.failures, r.blockedUntil = r.failures[:0], now.Add(g.cfg.BlockDuration)
	}
	g.mu.Unlock()
	if wasBlocked {
		blockedIPs.Dec()
	}
	if !block {
		g.log.Warn().Str("event", "lockd.connguard.suspicious").Str("remote", ip.String()).Str("reason", reason).
			Int("count", count).Int("threshold", g.cfg.FailureThreshold).Msg("suspicious connection")
		return false
	}
	blocks.Inc()
	blockedIPs.Inc()
	g.log.Warn().Str("event", "lockd.connguard.blocked").Str("remote", ip.String()).Str("reason", reason).
		Int("threshold", g.cfg.FailureThreshold).Dur("window", g.cfg.FailureWindow).
		Dur("duration", g.cfg.BlockDuration).Msg("connguard engaged: source blocked")
	return true
}

// pruneLocked forgets addresses with no live block and no failure in the
// window; if that frees nothing, it forgets one unblocked address.
func (g *Guard) pruneLocked(now time.Time) {
	cutoff := now.Add(-g.cfg.FailureWindow)
	var spare netip.Addr
	for ip, r := range g.ips {
		blocked := !r.blockedUntil.IsZero() && now.Before(r.blockedUntil)
		if blocked {
			continue
		}
		if n := len(r.failures); n == 0 || !r.failures[n-1].After(cutoff) {
			if !r.blockedUntil.IsZero() {
				blockedIPs.Dec()
			}
			delete(g.ips, ip)
			continue
		}
		spare = ip
	}
	if len(g.ips) >= g.cfg.MaxTracked && spare.IsValid() {
		delete(g.ips, spare)
	}
}

// Tracked is the number of addresses remembered.
func (g *Guard) Tracked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.ips)
}

// addrOf is the IP address of a connection's remote end; false for
// addresses without one (unix sockets).
func addrOf(a net.Addr) (netip.Addr, bool) {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(ta.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// SuspiciousConn records a suspicious connection by its remote address;
// connections without an IP address are ignored. It is the hook the TLS
// listener calls on a failed handshake.
func (g *Guard) SuspiciousConn(remote net.Addr, reason string) {
	if ip, ok := addrOf(remote); ok {
		g.Suspicious(ip, reason)
	}
}
