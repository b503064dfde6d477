package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/edge/connguard"
	"github.com/lockdhq/lockd/internal/tlsutil"
)

// TLS turns on mutual TLS: every connection must present a client
// certificate the Config verifies, and every request is authorized by the
// certificate's identity and namespace claims (see authz.go).
type TLS struct {
	// Config must require and verify client certificates
	// (tlsutil.ServerConfig builds one); it also refuses revoked serials
	// at the handshake.
	Config *tls.Config
	// Denylist is checked again on every request, so a revocation reaches
	// connections opened before it. Nil denies nothing.
	Denylist *tlsutil.Denylist
	// HandshakeTimeout bounds each handshake (default 10s).
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds concurrent handshakes (default 1024).
	MaxHandshakes int
	// Client is the TLS configuration this node presents when it forwards
	// a request to another node (its server certificate; see
	// tlsutil.ServerBundle.ClientTLSConfig).
	Client *tls.Config
	// VerifyClient checks the certificate chain a forwarded request carries
	// for its original client, as the handshake checks a direct client's
	// (tlsutil.VerifyClient); nil refuses forwarded identities.
	VerifyClient func(chain []*x509.Certificate) error
}

var handshakeFailures = metrics.NewCounter(`lockd_tls_handshake_failures_total`)

// peer is the verified identity of a connection, computed once after its
// handshake.
type peer struct {
	leaf      *x509.Certificate
	chain     []*x509.Certificate
	chainHdr  string // chain as HeaderForwardedClient carries it; set on first forward
	serial    string
	role      tlsutil.Role
	spiffe    string
	claims    tlsutil.Claims
	claimsErr error
}

func newPeer(cs tls.ConnectionState) *peer {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	return peerOf(cs.PeerCertificates)
}

// peerOf is the identity of a verified chain (leaf first).
func peerOf(chain []*x509.Certificate) *peer {
	leaf := chain[0]
	p := &peer{leaf: leaf, chain: chain, serial: tlsutil.Serial(leaf), role: tlsutil.RoleOf(leaf), spiffe: tlsutil.SPIFFEID(leaf)}
	p.claims, p.claimsErr = tlsutil.ParseClaims(leaf)
	return p
}

// peerConn is a handshaken TLS connection and its peer. fasthttp sees a
// *tls.Conn through it (ConnectionState, Handshake).
type peerConn struct {
	*tls.Conn
	peer *peer
	// pending holds bytes the disconnect watch read while a request waited
	// (a pipelined request); Read returns them first.
	pending []byte
}

// Read returns pending bytes before reading the connection.
func (p *peerConn) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// tlsListener hands fasthttp only connections whose handshake succeeded.
// Handshakes run in their own goroutines with a deadline, so a slow or
// hostile client never holds the accept loop or a request worker.
type tlsListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
	log     zerolog.Logger
	conns   chan net.Conn
	errs    chan error
	sem     chan struct{}
	closed  chan struct{}
	once    sync.Once
	// guard hears of failed handshakes (connguard).
	guard *connguard.Guard
}

func newTLSListener(ln net.Listener, t *TLS, log zerolog.Logger, guard *connguard.Guard) *tlsListener {
	timeout, max := t.HandshakeTimeout, t.MaxHandshakes
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if max <= 0 {
		max = 1024
	}
	l := &tlsListener{Listener: ln, cfg: t.Config, timeout: timeout, log: log, guard: guard,
		conns: make(chan net.Conn), errs: make(chan error), sem: make(chan struct{}, max), closed: make(chan struct{})}
	go l.loop()
	return l
}

func (l *tlsListener) loop() {
	for {
		raw, err := l.Listener.Accept()
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
		select {
		case l.sem <- struct{}{}:
		case <-l.closed:
			raw.Close()
			return
		}
		go l.handshake(raw)
	}
}

func (l *tlsListener) handshake(raw net.Conn) {
	defer func() { <-l.sem }()
	tc := tls.Server(raw, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		handshakeFailures.Inc()
		l.log.Debug().Err(err).Str("remote", raw.RemoteAddr().String()).Msg("tls handshake refused")
		if l.guard != nil && l.guard.Config().Enabled && !l.isClosed() {
			l.guard.SuspiciousConn(raw.RemoteAddr(), "tls_handshake")
		}
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader) {
			// Plain HTTP on the TLS port: say so, as net/http does.
			rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		tc.Close()
		return
	}
	pc := &peerConn{Conn: tc, peer: newPeer(tc.ConnectionState())}
	select {
	case l.conns <- pc:
	case <-l.closed:
		tc.Close()
	}
}

// looksLikeHTTP tells a plain HTTP request from a TLS record header.
func looksLikeHTTP(h [5]byte) bool {
	switch string(h[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "DELET", "PATCH", "OPTIO":
		return true
	}
	return false
}

// Accept returns the next handshaken connection.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *tlsListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// Close stops accepting; connections mid-handshake are closed.
func (l *tlsListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
