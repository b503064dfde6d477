package edge

import (
	"context"
	"crypto/tls"
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
// no thread held); stop ends the watch and restores the connection for the
// next request.
func (c *call) untilClientGone() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	conn := c.Conn()
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return ctx, func() { cancel(nil) }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return ctx, func() { cancel(nil) }
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf [1]byte
		raw.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				return false // nothing yet: park until readable
			}
			if n == 0 || (err != nil && err != syscall.EAGAIN) {
				cancel(errClientGone) // EOF or reset
			}
			return true // data (a pipelined request) or closed: stop watching
		})
	}()
	return ctx, func() {
		conn.SetReadDeadline(time.Unix(1, 0)) // wake the parked read
		wg.Wait()
		conn.SetReadDeadline(time.Time{})
		cancel(nil)
	}
}

var _ net.Conn = (*tls.Conn)(nil)
