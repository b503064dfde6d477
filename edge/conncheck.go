package edge

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// errClientGone cancels the work of a request whose client closed its
// connection.
var errClientGone = errors.New("edge: client closed the connection")

// untilClientGone returns a context that is cancelled when the client of a
// waiting request (blocking acquire, long-poll dequeue) closes its
// connection, so the domain withdraws the waiter instead of granting a lease
// or delivering a message that nobody will receive. It watches the socket
// through the Go netpoller with a non-consuming MSG_PEEK read (no polling,
// no thread held); stop ends the watch, looks once more (a client that
// left just now cancels the context then) and restores the connection for
// the next request.
func (c *call) untilClientGone() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	var wg sync.WaitGroup
	var conn net.Conn
	switch cn := c.Conn().(type) {
	case *muxStream:
		// A multiplexed request (mux_serve.go): its client left when the
		// forwarder says so or the connection to it drops.
		done := make(chan struct{})
		go func() {
			select {
			case <-cn.gone:
				cancel(errClientGone)
			case <-done:
			}
		}()
		var once sync.Once
		return ctx, func() {
			once.Do(func() { close(done) })
			if cn.left() {
				cancel(errClientGone)
			}
		}
	case *peerConn:
		conn = cn
		wg.Add(1)
		go watchTLS(cn, cancel, &wg)
	case syscall.Conn:
		raw, err := cn.SyscallConn()
		if err != nil {
			return ctx, func() { cancel(nil) }
		}
		conn = c.Conn()
		wg.Add(1)
		go watchTCP(raw, cancel, &wg)
	default:
		return ctx, func() { cancel(nil) }
	}
	return ctx, func() {
		conn.SetReadDeadline(time.Unix(1, 0)) // wake the parked read
		wg.Wait()
		conn.SetReadDeadline(time.Time{})
		// A last look: a reset already in the socket that the watch has
		// not seen yet still counts (actors.Blocking hands the reply of a
		// client that left to Abandon). The context is otherwise left to
		// end with the request's.
		if ctx.Err() == nil && c.clientGoneNow() {
			cancel(errClientGone)
		}
	}
}

// watchTCP parks on the socket with a non-consuming MSG_PEEK: EOF or a
// reset means the client left; data (a pipelined request) ends the watch
// and stays in the socket for the server.
func watchTCP(raw syscall.RawConn, cancel context.CancelCauseFunc, wg *sync.WaitGroup) {
	defer wg.Done()
	raw.Read(func(fd uintptr) bool {
		switch peekSocket(fd) {
		case sockEmpty:
			return false // nothing yet: park until readable
		case sockClosed:
			cancel(errClientGone) // EOF or reset
		}
		return true
	})
}

// sockState is what a non-blocking peek found in a socket.
type sockState int

const (
	sockEmpty  sockState = iota // nothing to read: the other side is quiet
	sockData                    // bytes waiting (left in the socket)
	sockClosed                  // EOF or an error such as a reset
)

// peekSocket looks at fd without consuming or blocking (MSG_PEEK,
// MSG_DONTWAIT): the one probe behind the client watch, the last-moment
// check before answering a waiter, and the pool's liveness check.
func peekSocket(fd uintptr) sockState {
	var buf [1]byte
	n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return sockEmpty
	case err != nil || n == 0:
		return sockClosed
	}
	return sockData
}

// watchTLS reads through TLS, because a TLS client announces its leaving
// with a close_notify record that a peek cannot tell from data (TLS 1.3
// encrypts record types). close_notify, EOF or a reset means the client
// left; real data is kept in the connection's pending bytes for the
// server's next read. A deadline (stop) ends the read without harm: a
// timeout does not break a crypto/tls connection.
func watchTLS(pc *peerConn, cancel context.CancelCauseFunc, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 4096)
	n, err := pc.Conn.Read(buf)
	if n > 0 {
		pc.pending = append(pc.pending, buf[:n]...)
		return
	}
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		cancel(errClientGone)
	}
}

// clientGoneNow peeks, without blocking, at the socket under the request's
// connection (under TLS too): EOF or a reset means the client has left.
// Bytes waiting (a pipelined request, a TLS record) count as alive.
func (c *call) clientGoneNow() bool {
	conn := c.Conn()
	if st, ok := conn.(*muxStream); ok {
		return st.left()
	}
	if pc, ok := conn.(*peerConn); ok {
		conn = pc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	raw.Control(func(fd uintptr) { gone = peekSocket(fd) == sockClosed })
	return gone
}
