package edge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/sdk/api"
)

// Multiplexed forwarding. A forwarded request on a connection of its own
// costs the forwarding node a write to the owner and a read of its answer,
// and the owner a read and a write: on loopback a `write` also runs the
// receiver's TCP input, and these system calls were half of a forwarding
// node's CPU. Short requests (muxRoutes: small bodies, small answers) go
// instead as frames over a few long-lived connections per owner: whoever
// finds a connection's writer idle lets the goroutines ready to run go
// first, then writes every frame queued meanwhile in one system call; one
// reader per connection takes the answers in whatever order the owner
// sends them, and the owner serves each frame on a goroutine of its own
// (a blocked acquire holds up nothing behind it) and batches its answers
// the same way.
//
// A frame is a 9-byte head (type, stream id, payload length) and the
// payload: an HTTP/1.1 request or response as on a connection of its own.
// A cancel frame (no payload) tells the owner the client of that stream
// left, which withdraws a blocked acquire as closing the connection does
// on the plain path. The connection starts as an HTTP request to
// muxPath (node to node, as /v1/cluster/abandon) with Upgrade:
// muxProtocol, answered 101 Switching Protocols; an owner that answers
// anything else (an older node) gets plain forwards.

const (
	muxPath = "/v1/cluster/mux"
	// muxProtocol is the Upgrade token of a multiplexed connection.
	muxProtocol = "lockd-mux/1"

	muxRequest  byte = 1
	muxCancel   byte = 2
	muxResponse byte = 3

	muxHead = 9
	// muxMaxFrame bounds a frame a reader accepts: muxRoutes carry
	// bodies of at most inlineForward and answers of a few KiB.
	muxMaxFrame = 16 << 20
	// muxConnsPerPeer is how many multiplexed connections a node keeps to
	// each owner: enough that one reader is not the bottleneck, few
	// enough that writes batch.
	muxConnsPerPeer = 2
	// muxRefusedFor is how long an owner that refused multiplexing gets
	// plain forwards before it is asked again.
	muxRefusedFor = time.Minute
)

// muxRoutes are the requests forwarded as frames: their bodies are small
// JSON (or a small enqueue, read whole) and their answers are small and
// not streamed. A blocking acquire is one of them (the owner serves
// every frame on its own goroutine, and a cancel frame withdraws it);
// dequeues, subscriptions, watches, queries, state reads and attachments
// are not (large or open-ended answers).
var muxRoutes = map[string]bool{
	"/v1/acquire": true, "/v1/keepalive": true, "/v1/release": true, "/v1/describe": true,
	"/v1/update": true, "/v1/remove": true, "/v1/metadata": true,
	"/v1/queue/enqueue": true, "/v1/queue/ack": true, "/v1/queue/nack": true, "/v1/queue/extend": true,
}

// muxForwards counts forwards sent as frames (also in
// lockd_cluster_forwards_total).
var muxForwards = metrics.NewCounter(`lockd_cluster_mux_forwards_total`)

// muxFrames and muxWrites count the frames multiplexed connections carried
// (both directions, counted by the sender) and the write system calls that
// carried them: their ratio is how well writes batch.
var (
	muxFrames = metrics.NewCounter(`lockd_cluster_mux_frames_total`)
	muxWrites = metrics.NewCounter(`lockd_cluster_mux_writes_total`)
)

var errMuxClosed = errors.New("edge: multiplexed connection to the owner closed")

// appendMuxHead appends a frame head to b.
func appendMuxHead(b []byte, typ byte, id uint32, n int) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// readMuxFrame reads one frame; the payload is a fresh slice.
func readMuxFrame(br *bufio.Reader) (typ byte, id uint32, payload []byte, err error) {
	var h [muxHead]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return
	}
	typ, id = h[0], binary.BigEndian.Uint32(h[1:5])
	n := binary.BigEndian.Uint32(h[5:9])
	if n > muxMaxFrame {
		return 0, 0, nil, fmt.Errorf("edge: multiplexed frame of %d bytes", n)
	}
	if n > 0 {
		payload = make([]byte, n)
		_, err = io.ReadFull(br, payload)
	}
	return
}

// muxWriter batches frames onto a connection without a goroutine of its
// own: a sender that finds no write in progress yields once to the
// goroutines ready to run, then writes, and keeps writing what other
// senders queued meanwhile, until nothing is left.
type muxWriter struct {
	conn    net.Conn
	mu      sync.Mutex
	out     []byte
	spare   []byte
	writing bool
	err     error
}

// send queues frame (copied) and writes it, with whatever else is queued,
// unless another sender is writing; it reports a write error seen so far.
func (w *muxWriter) send(frame []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.out = append(w.out, frame...)
	muxFrames.Inc()
	if w.writing {
		w.mu.Unlock()
		return nil
	}
	w.writing = true
	// Let the goroutines that are ready to run go first: those about to
	// send queue their frames meanwhile, and the write below takes them
	// all. Without this a write rarely found another frame queued (1.02
	// frames per write at 64 workers; 5.4 with it, docs/BENCHMARKS.md),
	// and when nothing else is ready it returns at once.
	w.mu.Unlock()
	runtime.Gosched()
	w.mu.Lock()
	for len(w.out) > 0 && w.err == nil {
		buf := w.out
		w.out = w.spare[:0]
		w.mu.Unlock()
		muxWrites.Inc()
		_, err := w.conn.Write(buf)
		w.mu.Lock()
		if cap(buf) <= 1<<20 {
			w.spare = buf[:0]
		}
		if err != nil {
			w.err = err
		}
	}
	w.writing = false
	err := w.err
	w.mu.Unlock()
	return err
}

// muxPeer is the multiplexed connections to one owner.
type muxPeer struct {
	pool    *peerPool
	log     zerolog.Logger
	self    string
	mu      sync.Mutex
	conns   [muxConnsPerPeer]*muxConn
	next    atomic.Uint32
	refused time.Time // the owner refused multiplexing: plain until
	down    time.Time // a dial failed: fail forwards until
}

// muxDownFor is how long forwards to an owner fail at once after a
// failed dial (503, the client retries).
const muxDownFor = 200 * time.Millisecond

var errOwnerDown = errors.New("edge: the owner could not be reached a moment ago")

// conn returns an open multiplexed connection, dialing one if needed; nil
// (and no error) means the owner does not multiplex: forward plainly.
func (p *muxPeer) conn() (*muxConn, error) {
	i := p.next.Add(1) % muxConnsPerPeer
	p.mu.Lock()
	defer p.mu.Unlock()
	if mc := p.conns[i]; mc != nil && !mc.closed() {
		return mc, nil
	}
	if time.Now().Before(p.refused) {
		return nil, nil
	}
	if time.Now().Before(p.down) {
		return nil, errOwnerDown
	}
	mc, err := p.dial()
	if err != nil {
		// Forwards to an owner that cannot be reached fail at once for a
		// moment instead of queueing here behind one dial each.
		p.down = time.Now().Add(muxDownFor)
		return nil, err
	}
	if mc == nil {
		p.refused = time.Now().Add(muxRefusedFor)
		return nil, nil
	}
	p.conns[i] = mc
	return mc, nil
}

// dial opens a connection and asks the owner to multiplex it; nil, nil
// when the owner does not switch (an older node), an error when it cannot
// now (503, 429) or cannot be reached.
func (p *muxPeer) dial() (*muxConn, error) {
	u, err := p.pool.dial()
	if err != nil {
		return nil, err
	}
	u.conn.SetDeadline(time.Now().Add(peerDialTimeout))
	fmt.Fprintf(u.bw, "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%s: %s\r\nContent-Length: 0\r\n\r\n",
		muxPath, p.pool.addr, muxProtocol, api.HeaderForwardedBy, p.self)
	if err := u.bw.Flush(); err != nil {
		u.close()
		return nil, err
	}
	var h fasthttp.ResponseHeader
	if err := h.Read(u.br); err != nil {
		u.close()
		return nil, err
	}
	switch st := h.StatusCode(); {
	case st == fasthttp.StatusServiceUnavailable || st == fasthttp.StatusTooManyRequests:
		// Passive, leaving or shedding now: not a refusal of the protocol.
		u.close()
		return nil, fmt.Errorf("edge: the owner answered %d to a multiplexed connection", st)
	case st != fasthttp.StatusSwitchingProtocols || !strings.EqualFold(string(h.Peek("Upgrade")), muxProtocol):
		u.close()
		return nil, nil
	}
	u.conn.SetDeadline(time.Time{})
	p.log.Info().Str("owner", p.pool.addr).Msg("multiplexed forwarding connection to the owner opened")
	mc := &muxConn{w: muxWriter{conn: u.conn}, br: u.br, waits: map[uint32]chan []byte{}, done: make(chan struct{})}
	go mc.readLoop()
	return mc, nil
}

func (p *muxPeer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, mc := range p.conns {
		if mc != nil {
			mc.fail(errMuxClosed)
			p.conns[i] = nil
		}
	}
}

// muxConn is one multiplexed connection to an owner (forwarding side).
type muxConn struct {
	w  muxWriter
	br *bufio.Reader

	mu     sync.Mutex
	nextID uint32
	waits  map[uint32]chan []byte // stream id -> its answer (nil: connection lost)
	err    error
	done   chan struct{}
}

func (mc *muxConn) closed() bool {
	select {
	case <-mc.done:
		return true
	default:
		return false
	}
}

// open registers a stream and returns its id and answer channel.
func (mc *muxConn) open() (uint32, chan []byte, error) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.err != nil {
		return 0, nil, mc.err
	}
	mc.nextID++
	ch := make(chan []byte, 1)
	mc.waits[mc.nextID] = ch
	return mc.nextID, ch, nil
}

func (mc *muxConn) forget(id uint32) {
	mc.mu.Lock()
	delete(mc.waits, id)
	mc.mu.Unlock()
}

// readLoop hands each answer to its stream until the connection fails.
func (mc *muxConn) readLoop() {
	for {
		typ, id, payload, err := readMuxFrame(mc.br)
		if err != nil {
			mc.fail(err)
			return
		}
		if typ != muxResponse {
			mc.fail(fmt.Errorf("edge: multiplexed frame of type %d from the owner", typ))
			return
		}
		mc.mu.Lock()
		ch := mc.waits[id]
		delete(mc.waits, id)
		mc.mu.Unlock()
		if ch != nil {
			ch <- payload
		}
	}
}

// fail closes the connection and ends every stream waiting on it.
func (mc *muxConn) fail(err error) {
	mc.mu.Lock()
	if mc.err != nil {
		mc.mu.Unlock()
		return
	}
	mc.err = err
	waits := mc.waits
	mc.waits = nil
	close(mc.done)
	mc.mu.Unlock()
	mc.w.conn.Close()
	for _, ch := range waits {
		close(ch)
	}
}

// muxFrameFor builds the request frame of a forward: the request line,
// the client's end-to-end headers, the cluster headers and the body
// (whole: muxRoutes forwards only replayable bodies).
func (s *Server) muxFrameFor(c *call, id uint32, host string, body []byte) []byte {
	traced := trace.SpanContextFromContext(c.ctx).IsValid()
	b := make([]byte, muxHead, 512+len(body))
	b = append(b, c.Method()...)
	b = append(b, ' ')
	b = append(b, c.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, v := range c.Request.Header.All() {
		if !inSet(hopHeaders, k) && !(traced && inSet(traceHeaders, k)) {
			b = appendHeader(b, k, v)
		}
	}
	b = appendHeader(b, []byte(api.HeaderForwardedBy), []byte(s.peers.self))
	b = appendHeader(b, []byte(api.HeaderForwardID), []byte(c.fwdID))
	b = appendHeader(b, []byte(api.HeaderCorrelationID), []byte(c.cid))
	if traced {
		hc := appendCarrier{b: b}
		otel.GetTextMapPropagator().Inject(c.ctx, &hc)
		b = hc.b
	}
	if p := c.connPeer(); p != nil {
		if p.chainHdr == "" {
			p.chainHdr = encodeChain(p.chain)
		}
		b = appendHeader(b, []byte(api.HeaderForwardedClient), []byte(p.chainHdr))
	}
	b = fasthttp.AppendUint(append(b, "Content-Length: "...), len(body))
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	copy(b, appendMuxHead(nil, muxRequest, id, len(b)-muxHead))
	return b
}

// traceHeaders are the client's trace headers, replaced by this node's
// span when it traces the request.
var traceHeaders = []string{"Traceparent", "Tracestate", "Baggage"}

// appendCarrier appends the propagators' headers to a frame.
type appendCarrier struct{ b []byte }

func (a *appendCarrier) Get(string) string { return "" }
func (a *appendCarrier) Set(k, v string)   { a.b = appendHeader(a.b, []byte(k), []byte(v)) }
func (a *appendCarrier) Keys() []string    { return nil }

func appendHeader(b, k, v []byte) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// forwardMux forwards c as a frame on a multiplexed connection to the
// owner; false means it was not sent (the owner does not multiplex, or
// the body is not whole): forward plainly.
func (s *Server) forwardMux(c *call, to cluster.Member, pool *peerPool) bool {
	mp := s.peers.mux(to.Endpoint, pool, s.log)
	mc, err := mp.conn()
	if err != nil {
		s.forwardFailed(c, to, err)
		return true
	}
	if mc == nil {
		return false
	}
	body, whole, err := c.wholeForwardBody()
	if err != nil {
		s.forwardFailed(c, to, err)
		return true
	}
	if !whole {
		return false
	}
	id, ch, err := mc.open()
	if err != nil {
		s.forwardFailed(c, to, err)
		return true
	}
	frame := s.muxFrameFor(c, id, pool.addr, body)
	muxForwards.Inc()
	if err := mc.w.send(frame); err != nil {
		mc.fail(err)
		s.forwardFailed(c, to, err)
		return true
	}
	payload, ok, gone := awaitMux(c, mc, id, ch)
	if !ok {
		s.forwardFailed(c, to, errMuxClosed)
		return true
	}
	if err := relayMux(c, payload); err != nil {
		s.forwardFailed(c, to, err)
		return true
	}
	takeBack := len(c.Response.Header.Peek(api.HeaderForwardID)) > 0
	c.Response.Header.Del(api.HeaderForwardID)
	if gone || takeBack && c.clientGoneNow() {
		if takeBack {
			go s.abandonAt(to, c.fwdID)
		}
		c.Response.Reset()
		forwardFailures.Inc()
		c.SetConnectionClose()
	}
	return true
}

// awaitMux waits for stream id's answer. After watchDelay it also
// watches the client: if it leaves, the owner is told (a cancel frame)
// and the answer is still awaited (it may be one to take back). ok is
// false when the connection was lost first.
func awaitMux(c *call, mc *muxConn, id uint32, ch chan []byte) (payload []byte, ok, gone bool) {
	t := time.NewTimer(watchDelay)
	select {
	case payload, ok = <-ch:
		t.Stop()
		return payload, ok, false
	case <-t.C:
	}
	watched, stop := c.untilClientGone()
	select {
	case payload, ok = <-ch:
		stop()
		return payload, ok, errors.Is(context.Cause(watched), errClientGone)
	case <-watched.Done():
	}
	stop()
	if errors.Is(context.Cause(watched), errClientGone) {
		gone = true
		mc.w.send(appendMuxHead(nil, muxCancel, id, 0))
	}
	// The owner withdraws the request and answers at once, or it had
	// answered already (then possibly with something to take back).
	t.Reset(muxCancelWait)
	defer t.Stop()
	select {
	case payload, ok = <-ch:
	case <-t.C:
		mc.forget(id)
	}
	return payload, ok, gone
}

// muxCancelWait bounds the wait for the owner's answer after a cancel
// frame: an owner that does not answer by then keeps what it granted
// until its lease or visibility timeout.
const muxCancelWait = 10 * time.Second

// relayMux answers c with the owner's response from a frame.
func relayMux(c *call, payload []byte) error {
	br := acquireMuxReader(payload)
	defer releaseMuxReader(br)
	cid := string(c.Response.Header.Peek(api.HeaderCorrelationID))
	shutdown := c.Response.Header.Peek(api.HeaderShutdownImminent) != nil
	if err := c.Response.Read(br.r); err != nil {
		c.Response.Reset()
		c.Response.Header.Set(api.HeaderCorrelationID, cid)
		return fmt.Errorf("edge: owner's multiplexed response: %w", err)
	}
	c.Response.Header.ResetConnectionClose()
	if shutdown {
		c.Response.Header.Set(api.HeaderShutdownImminent, "true")
	}
	return nil
}

// muxReader is a bufio.Reader over a frame's payload, pooled.
type muxReader struct {
	src bytes.Reader
	r   *bufio.Reader
}

var muxReaders = sync.Pool{New: func() any {
	m := &muxReader{}
	m.r = bufio.NewReaderSize(&m.src, 4096)
	return m
}}

func acquireMuxReader(b []byte) *muxReader {
	m := muxReaders.Get().(*muxReader)
	m.src.Reset(b)
	m.r.Reset(&m.src)
	return m
}

func releaseMuxReader(m *muxReader) {
	m.src.Reset(nil)
	muxReaders.Put(m)
}
