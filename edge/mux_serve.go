package edge

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/sdk/api"
)

// The owner's side of multiplexed forwarding (mux.go): a node that asks
// with POST muxPath gets its connection hijacked, and each request frame
// on it is served on a goroutine of its own by the same handler as any
// request, with a muxStream as its connection: the forwarder's identity
// (under mTLS), and "client gone" when a cancel frame names it or the
// connection drops.

// clusterMux switches the connection to the multiplexed protocol (101
// Switching Protocols, Upgrade: muxProtocol, so HTTP proxies between the
// nodes pass it through as they pass WebSockets). Only another node may
// ask (serverPolicy under mTLS; a forwarding marker always).
func (s *Server) clusterMux(c *call) error {
	if s.cluster == nil {
		return fail(404, api.CodeNotFound, "no such endpoint: "+muxPath+" (this node is not clustered)")
	}
	if !c.forwarded {
		return fail(403, api.CodeTCForbidden, "only another node of the cluster may open a multiplexed connection")
	}
	if !strings.EqualFold(string(c.Request.Header.Peek("Upgrade")), muxProtocol) {
		return fail(400, api.CodeInvalidBody, "a multiplexed connection is asked for with Connection: Upgrade and Upgrade: "+muxProtocol)
	}
	pr := c.connPeer()
	c.Hijack(func(conn net.Conn) { s.serveMux(conn, pr) })
	c.Response.Header.Set("Connection", "Upgrade")
	c.Response.Header.Set("Upgrade", muxProtocol)
	c.SetStatusCode(fasthttp.StatusSwitchingProtocols)
	return nil
}

// muxServer is one multiplexed connection from a forwarding node.
type muxServer struct {
	s    *Server
	conn net.Conn
	w    muxWriter
	peer *peer
	// The connection's addresses, kept: the connection is recycled when
	// serveMux returns.
	local, remote net.Addr

	mu      sync.Mutex
	streams map[uint32]*muxStream
	// serving counts the streams' goroutines: the connection fasthttp
	// hijacked for us is valid only until serveMux returns.
	serving sync.WaitGroup
}

// muxServers tracks the multiplexed connections and their requests in
// flight, for Shutdown.
type muxServers struct {
	mu      sync.Mutex
	conns   map[*muxServer]struct{}
	closing bool
	flight  sync.WaitGroup
	// idle hands a request to a worker waiting for one (muxWorker).
	idle chan muxJob
}

// muxJob is one request frame to serve.
type muxJob struct {
	ms      *muxServer
	st      *muxStream
	payload []byte
}

// muxWorkerIdle is how long a worker waits for another request before it
// ends.
const muxWorkerIdle = 10 * time.Second

// dispatch serves job on an idle worker, or on a new one. Workers are
// kept because a request's handlers run deep: a fresh goroutine grows its
// stack (runtime.copystack) on every request, a kept one has grown it
// once (fasthttp keeps its connection goroutines for the same reason).
func (m *muxServers) dispatch(job muxJob) {
	select {
	case m.idle <- job:
	default:
		go m.work(job)
	}
}

func (m *muxServers) work(job muxJob) {
	t := time.NewTimer(muxWorkerIdle)
	defer t.Stop()
	for {
		job.ms.serveStream(job.st, job.payload)
		job = muxJob{}
		t.Reset(muxWorkerIdle)
		select {
		case job = <-m.idle:
		case <-t.C:
			return
		}
	}
}

func (m *muxServers) add(ms *muxServer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	if m.conns == nil {
		m.conns = map[*muxServer]struct{}{}
	}
	m.conns[ms] = struct{}{}
	return true
}

func (m *muxServers) remove(ms *muxServer) {
	m.mu.Lock()
	delete(m.conns, ms)
	m.mu.Unlock()
}

// begin counts a request in flight; false once shutting down.
func (m *muxServers) begin() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.flight.Add(1)
	return true
}

// shutdown refuses new requests, waits for those in flight until done
// closes, and closes the connections.
func (m *muxServers) shutdown(done <-chan struct{}) {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		m.flight.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-done:
	}
	m.mu.Lock()
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	for ms := range conns {
		ms.conn.Close()
	}
}

// serveMux reads frames until the connection ends.
func (s *Server) serveMux(conn net.Conn, pr *peer) {
	conn.SetDeadline(time.Time{}) // fasthttp's read timeout of the opening request
	ms := &muxServer{s: s, conn: conn, w: muxWriter{conn: conn}, peer: pr, streams: map[uint32]*muxStream{},
		local: conn.LocalAddr(), remote: conn.RemoteAddr()}
	if !s.muxes.add(ms) {
		conn.Close()
		return
	}
	defer s.muxes.remove(ms)
	br := bufio.NewReaderSize(conn, 32<<10)
	for {
		typ, id, payload, err := readMuxFrame(br)
		if err != nil {
			break
		}
		if typ == muxCancel {
			ms.mu.Lock()
			st := ms.streams[id]
			ms.mu.Unlock()
			if st != nil {
				st.leave()
			}
			continue
		}
		if typ != muxRequest {
			break
		}
		st := &muxStream{ms: ms, id: id, gone: make(chan struct{})}
		ms.mu.Lock()
		ms.streams[id] = st
		ms.mu.Unlock()
		ms.serving.Add(1)
		s.muxes.dispatch(muxJob{ms: ms, st: st, payload: payload})
	}
	conn.Close()
	ms.mu.Lock()
	streams := ms.streams
	ms.streams = map[uint32]*muxStream{}
	ms.mu.Unlock()
	for _, st := range streams {
		st.leave() // the forwarding node is gone: so are its clients
	}
	// Their answers go nowhere now, but the handlers still hold the
	// connection's writer: fasthttp recycles the hijacked connection when
	// this returns.
	ms.serving.Wait()
}

var muxCtxs = sync.Pool{New: func() any { return new(fasthttp.RequestCtx) }}

// serveStream serves one request frame and sends its answer.
func (ms *muxServer) serveStream(st *muxStream, payload []byte) {
	defer ms.serving.Done()
	defer func() {
		ms.mu.Lock()
		delete(ms.streams, st.id)
		ms.mu.Unlock()
	}()
	ctx := muxCtxs.Get().(*fasthttp.RequestCtx)
	defer func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		muxCtxs.Put(ctx)
	}()
	ctx.Init2(st, fasthttpLogger{ms.s.log}, false)
	br := acquireMuxReader(payload)
	// As the server reads a request: multipart bodies are left to the
	// handler (fasthttp's Read would parse them first).
	err := ctx.Request.Header.Read(br.r)
	if err == nil {
		err = ctx.Request.ContinueReadBody(br.r, 0, false)
	}
	releaseMuxReader(br)
	switch {
	case err != nil:
		writeError(ctx, badRequest(api.CodeInvalidBody, "multiplexed request: "+err.Error()))
	case !muxRoutes[string(ctx.Path())]:
		writeError(ctx, fail(400, api.CodeInvalidBody, "not a multiplexed route: "+string(ctx.Path())))
	case !ms.s.muxes.begin():
		he := fail(503, api.CodeNodeUnavailable, "this node is shutting down; retry")
		he.retryAfter = time.Second
		writeError(ctx, he)
	default:
		ms.s.serve(ctx)
		ms.s.muxes.flight.Done()
	}
	frame := appendMuxHead(make([]byte, 0, 1024), muxResponse, st.id, 0)
	frame, err = appendResponse(frame, &ctx.Response)
	if err != nil {
		ms.conn.Close() // the forwarder's stream fails; it answers 503
		return
	}
	copy(frame, appendMuxHead(nil, muxResponse, st.id, len(frame)-muxHead))
	if ms.w.send(frame) != nil {
		ms.conn.Close()
	}
}

// appendResponse appends resp as written on a connection.
func appendResponse(b []byte, resp *fasthttp.Response) ([]byte, error) {
	if !resp.IsBodyStream() {
		body := resp.Body()
		resp.Header.SetContentLength(len(body))
		// Header, not AppendBytes: AppendBytes writes from dst[:0].
		b = append(b, resp.Header.Header()...)
		return append(b, body...), nil
	}
	sw := &sliceWriter{b: b}
	bw := bufio.NewWriter(sw)
	if err := resp.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return sw.b, nil
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

var errMuxStream = errors.New("edge: a multiplexed request has no connection of its own")

// muxStream is the connection a multiplexed request is served with. It
// carries no bytes (the request was read from its frame, the answer is
// sent as one); it knows the forwarder's identity and whether the client
// left.
type muxStream struct {
	ms   *muxServer
	id   uint32
	once sync.Once
	gone chan struct{}
}

var _ net.Conn = (*muxStream)(nil)

func (st *muxStream) leave() { st.once.Do(func() { close(st.gone) }) }

func (st *muxStream) left() bool {
	select {
	case <-st.gone:
		return true
	default:
		return false
	}
}

func (st *muxStream) Read([]byte) (int, error)         { return 0, errMuxStream }
func (st *muxStream) Write([]byte) (int, error)        { return 0, errMuxStream }
func (st *muxStream) Close() error                     { return nil }
func (st *muxStream) LocalAddr() net.Addr              { return st.ms.local }
func (st *muxStream) RemoteAddr() net.Addr             { return st.ms.remote }
func (st *muxStream) SetDeadline(time.Time) error      { return nil }
func (st *muxStream) SetReadDeadline(time.Time) error  { return nil }
func (st *muxStream) SetWriteDeadline(time.Time) error { return nil }
