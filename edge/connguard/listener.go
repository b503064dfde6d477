package connguard

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// Listener wraps ln: connections from blocked sources are closed at
// accept, and, when probe is true (plain TCP; not under TLS, where the
// handshake is the probe), each connection's first byte is awaited for
// Config.ProbeTimeout before the connection is handed on. A disabled guard
// returns ln itself, as does a listener without IP addresses (unix).
func (g *Guard) Listener(ln net.Listener, probe bool) net.Listener {
	if !g.cfg.Enabled {
		return ln
	}
	if _, ok := addrOf(ln.Addr()); !ok {
		return ln
	}
	l := &listener{Listener: ln, g: g, probe: probe && g.cfg.ProbeTimeout > 0,
		conns: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{}),
		sem: make(chan struct{}, g.cfg.MaxProbes)}
	go l.loop()
	return l
}

type listener struct {
	net.Listener
	g      *Guard
	probe  bool
	conns  chan net.Conn
	errs   chan error
	closed chan struct{}
	sem    chan struct{}
	once   sync.Once
}

func (l *listener) loop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.closed:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ip, ok := addrOf(c.RemoteAddr())
		if ok && l.g.Blocked(ip) {
			rejected.Inc()
			l.g.log.Debug().Str("event", "lockd.connguard.rejected").Str("remote", ip.String()).Msg("blocked source dropped")
			c.Close()
			continue
		}
		if !l.probe || !ok {
			l.deliver(c)
			continue
		}
		select {
		case l.sem <- struct{}{}:
		case <-l.closed:
			c.Close()
			return
		}
		go func() {
			defer func() { <-l.sem }()
			l.classify(c, ip)
		}()
	}
}

func (l *listener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

// classify waits for c's first byte: data hands it on; a close without a
// byte is suspicious and dropped; no byte within the probe timeout is
// suspicious but handed on (the HTTP server's header timeout bounds it).
func (l *listener) classify(c net.Conn, ip netip.Addr) {
	switch peekFirst(c, l.g.clock.Now().Add(l.g.cfg.ProbeTimeout)) {
	case probeData:
		l.deliver(c)
	case probeTimeout:
		l.g.Suspicious(ip, "probe_timeout")
		l.deliver(c)
	default:
		l.g.Suspicious(ip, "zero_connect")
		c.Close()
	}
}

// Accept returns the next connection that passed the guard.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections being probed are closed.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type probeResult int

const (
	probeData probeResult = iota
	probeTimeout
	probeClosed
)

// peekFirst waits until deadline for c to become readable and looks at
// what is there without consuming it (MSG_PEEK).
func peekFirst(c net.Conn, deadline time.Time) probeResult {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return probeData
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return probeData
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return probeData
	}
	defer c.SetReadDeadline(time.Time{})
	res := probeData
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
			return false // nothing yet: park until readable or the deadline
		}
		if n <= 0 || rerr != nil {
			res = probeClosed // EOF or reset before a byte
		}
		return true
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return probeTimeout
	}
	return res
}
