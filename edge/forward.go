package edge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/xid"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/sdk/api"
)

var (
	forwardsTotal   = metrics.NewCounter(`lockd_cluster_forwards_total`)
	forwardFailures = metrics.NewCounter(`lockd_cluster_forward_failures_total`)
)

// inlineRelay is the largest response body a forward reads whole before
// answering (keeping its Content-Length); larger or open-ended bodies are
// streamed through.
const inlineRelay = 1 << 20

// inlineForward is the largest request body of known length a forward
// reads whole before sending (JSON bodies, small uploads): it goes out
// with the head in one write, and can be sent again on a pooled
// connection that turns out closed. Larger ones stream.
const inlineForward = 64 << 10

// watchDelay is how long a forward waits for the owner before it starts
// watching whether its client went away: most answers (a release, a
// non-blocking acquire) come sooner, and the watch costs a goroutine and
// a parked socket read per request.
const watchDelay = 20 * time.Millisecond

// forward sends the request to the node that owns its key or queue and
// relays the answer, streaming bodies both ways. The owner is told who
// forwarded (HeaderForwardedBy: it never forwards again) and, under mTLS,
// who the client is (HeaderForwardedClient). An owner that cannot be
// reached is a 503 with Retry-After: the client retries, possibly through
// another node, and membership soon moves the key if the owner is gone.
func (s *Server) forward(c *call, to cluster.Member) {
	forwardsTotal.Inc()
	c.recording = false
	pool, err := s.peers.pool(to.Endpoint)
	if err != nil {
		s.forwardFailed(c, to, err)
		return
	}
	c.fwdID = xid.New().String()
	// Frames pay off when many forwards to the owner are in flight
	// together (their writes batch); a few go faster on connections of
	// their own (mux.go).
	n := pool.inflight.Add(1)
	defer pool.inflight.Add(-1)
	if m := s.cfg.MuxThreshold; m > 0 && n >= int64(m) && muxRoutes[string(c.Path())] && string(c.Method()) == fasthttp.MethodPost && s.forwardMux(c, to, pool) {
		return
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	replayable, err := s.buildForward(c, req, to)
	if err != nil {
		s.forwardFailed(c, to, err)
		return
	}
	resp, u, err := pool.roundTrip(c, req, replayable)
	if errors.Is(err, errClientLeftAnswered) {
		// The owner answered (a lease granted, messages delivered) a
		// client that left meanwhile: it takes that back.
		go s.abandonAt(to, c.fwdID)
		err = errClientGone
	}
	if err != nil {
		s.forwardFailed(c, to, err)
		return
	}
	relay(c, resp, u, pool)
}

// errClientLeftAnswered is a forward whose owner answered, with an
// answer it can take back, after its client had left.
var errClientLeftAnswered = errors.New("edge: the owner answered a client that left")

// abandonAt asks the owner to take back what the forwarded request fwdID
// was answered with (its client left): a lease granted after waiting is
// released, deliveries are handed back. Best effort: an owner that
// cannot be reached leaves them to their TTL or visibility timeout.
func (s *Server) abandonAt(to cluster.Member, fwdID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, _ := json.Marshal(clusterAbandonRequest{ForwardID: fwdID})
	if err := s.peers.call(ctx, to.Endpoint, api.PathClusterAbandon, body, nil); err != nil {
		s.log.Warn().Err(err).Str("owner", to.ID).Msg("could not hand back what the owner gave a client that left; it is held until its lease or visibility timeout ends")
	}
}

func (s *Server) forwardFailed(c *call, to cluster.Member, err error) {
	forwardFailures.Inc()
	if errors.Is(err, errClientGone) {
		c.SetConnectionClose()
		return
	}
	s.log.Warn().Ctx(c.traceCtx()).Err(err).Str("owner", to.ID).Str("endpoint", to.Endpoint).Str("correlation_id", c.cid).Msg("forward to owner failed")
	he := fail(503, api.CodeNodeUnavailable, "the node that owns this key or queue ("+to.Endpoint+") cannot be reached; retry")
	he.retryAfter = time.Second
	c.Response.Reset()
	c.Response.Header.Set(api.HeaderCorrelationID, c.cid)
	writeError(c.RequestCtx, he)
}

// hopHeaders are not forwarded: they describe one connection, or are this
// cluster's own and must not be taken from a client.
var hopHeaders = []string{
	"Host", "Connection", "Content-Length", "Transfer-Encoding", "Expect",
	"Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Connection",
	api.HeaderForwardedBy, api.HeaderForwardedClient, api.HeaderForwardID,
}

// relayHeaders are not copied from the owner's response: the edge sets
// its own framing.
var relayHeaders = []string{"Connection", "Content-Length", "Transfer-Encoding", "Keep-Alive", api.HeaderForwardID}

// inSet reports whether the header name k is one of set, ignoring case,
// without allocating (a forward checks every header of both messages).
func inSet(set []string, k []byte) bool {
	for _, name := range set {
		if len(name) == len(k) && foldEq(name, k) {
			return true
		}
	}
	return false
}

// foldEq compares an ASCII header name with k, ignoring case.
func foldEq(name string, k []byte) bool {
	for i := 0; i < len(name); i++ {
		a, b := name[i], k[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// buildForward copies the request into req: method, URI, end-to-end
// headers, the cluster headers and the body (what the handler already read,
// then the rest of the stream). It reports whether the body can be sent
// again (it was whole in memory); an error is a client whose body ended
// early.
func (s *Server) buildForward(c *call, req *fasthttp.Request, to cluster.Member) (bool, error) {
	req.Header.SetMethodBytes(c.Method())
	req.SetRequestURI(strings.TrimRight(to.Endpoint, "/") + string(c.RequestURI()))
	for k, v := range c.Request.Header.All() {
		if !inSet(hopHeaders, k) {
			req.Header.AddBytesKV(k, v)
		}
	}
	req.Header.Set(api.HeaderForwardedBy, s.peers.self)
	req.Header.Set(api.HeaderForwardID, c.fwdID)
	req.Header.Set(api.HeaderCorrelationID, c.cid)
	c.injectTrace(req)
	if p := c.connPeer(); p != nil {
		if p.chainHdr == "" {
			p.chainHdr = encodeChain(p.chain)
		}
		req.Header.Set(api.HeaderForwardedClient, p.chainHdr)
	}
	body, whole, err := c.wholeForwardBody()
	if err != nil {
		return false, err
	}
	if whole {
		req.SetBodyRaw(body)
		return true, nil
	}
	stream := io.MultiReader(bytes.NewReader(c.rec.bufOrNil()), c.timedBodyStream())
	switch n := c.Request.Header.ContentLength(); {
	case n >= 0:
		req.SetBodyStream(stream, n)
	case n == -1: // chunked
		req.SetBodyStream(stream, -1)
	}
	return false, nil
}

// wholeForwardBody returns the request body whole when it is in memory
// or of known length up to inlineForward (then read now, after what the
// handler already read); whole is false when it must stream (nothing is
// read then). An error is a client whose body ended early.
func (c *call) wholeForwardBody() (body []byte, whole bool, err error) {
	stream := c.timedBodyStream()
	if stream == nil {
		return c.PostBody(), true, nil
	}
	prefix := c.rec.bufOrNil()
	n := c.Request.Header.ContentLength()
	if n < len(prefix) || n > inlineForward {
		return nil, false, nil
	}
	body = make([]byte, n)
	copy(body, prefix)
	if _, err := io.ReadFull(stream, body[len(prefix):]); err != nil {
		return nil, false, errClientGone
	}
	// Read whole now: a second call (a plain forward after the owner
	// refused multiplexing) must find it.
	c.Request.SetBodyRaw(body)
	c.body, c.rec = nil, nil
	return body, true, nil
}

// roundTrip writes req on a connection to the node and reads the
// response head; the body is left to stream. A connection taken from the
// pool that turns out closed is replaced once when the body can be sent
// again. While the owner works on the request (a blocked acquire may wait
// a minute), the client's connection is watched: if the client leaves, the
// connection to the owner is closed so that the owner withdraws the work.
func (p *peerPool) roundTrip(c *call, req *fasthttp.Request, replayable bool) (*fasthttp.Response, *peerConnUp, error) {
	for attempt := 0; ; attempt++ {
		// A connection back from its last response moments ago is taken
		// without the liveness peek (a system call) when the request can be
		// sent again should it turn out closed.
		u, reused, err := p.get(replayable && attempt == 0)
		if err != nil {
			return nil, nil, err
		}
		retry := reused && replayable && attempt == 0
		if err := req.Write(u.bw); err != nil {
			u.close()
			if retry {
				continue
			}
			return nil, nil, err
		}
		if err := u.bw.Flush(); err != nil {
			u.close()
			if retry {
				continue
			}
			return nil, nil, err
		}
		resp := fasthttp.AcquireResponse()
		resp.StreamBody = true
		resp.SkipBody = c.IsHead()
		stop, gone := watchClient(c, u)
		err = resp.Read(u.br)
		stop()
		// An answer the owner can take back (a lease or deliveries after a
		// wait) is worth one more look at the client, even when the
		// answer came before the watch began.
		takeBack := err == nil && len(resp.Header.Peek(api.HeaderForwardID)) > 0
		if err == nil && (gone() || takeBack && c.clientGoneNow()) {
			// The answer came, but the client had left: nobody will read
			// it.
			resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
			u.close()
			if takeBack {
				return nil, nil, errClientLeftAnswered
			}
			return nil, nil, errClientGone
		}
		if err != nil {
			fasthttp.ReleaseResponse(resp)
			u.close()
			if gone() {
				return nil, nil, errClientGone
			}
			if retry {
				continue
			}
			return nil, nil, err
		}
		return resp, u, nil
	}
}

// watchClient closes u when c's client goes away before stop is called;
// gone reports whether that happened, or whether the last look at stop
// found the client gone (the owner's answer then reaches nobody).
// The watch starts only after watchDelay: a client that leaves sooner is
// noticed then.
func watchClient(c *call, u *peerConnUp) (stop func(), gone func() bool) {
	done := make(chan struct{})
	closed := make(chan struct{})
	var (
		mu        sync.Mutex
		stopped   bool
		ctx       context.Context
		stopWatch func()
		late      bool // the last look found the client gone
	)
	timer := time.AfterFunc(watchDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		ctx, stopWatch = c.untilClientGone()
		wctx := ctx
		go func() {
			select {
			case <-wctx.Done():
				select {
				case <-done:
					return // the owner answered first (stop's last look may end ctx after)
				default:
				}
				if errors.Is(context.Cause(wctx), errClientGone) {
					u.close()
					close(closed)
				}
			case <-done:
			}
		}()
	})
	return func() {
			timer.Stop()
			mu.Lock()
			stopped = true
			sw, wctx := stopWatch, ctx
			mu.Unlock()
			close(done)
			if sw != nil {
				sw()
				late = errors.Is(context.Cause(wctx), errClientGone)
			}
		}, func() bool {
			select {
			case <-closed:
				return true
			default:
				return late
			}
		}
}

// relay answers c with the owner's response: status, headers and body.
// Small bodies of known length are read whole; larger ones stream with
// their length; open-ended ones (NDJSON, subscriptions, watch) are copied
// and flushed as they arrive. The connection goes back to the pool only
// when its response was read to its end.
func relay(c *call, resp *fasthttp.Response, u *peerConnUp, pool *peerPool) {
	c.Response.SetStatusCode(resp.StatusCode())
	for k, v := range resp.Header.All() {
		if !inSet(relayHeaders, k) {
			c.Response.Header.SetBytesKV(k, v)
		}
	}
	reusable := !resp.ConnectionClose()
	n := resp.Header.ContentLength()
	body := resp.BodyStream()
	switch {
	case body == nil || c.IsHead():
		fasthttp.ReleaseResponse(resp)
		finish(pool, u, reusable && body == nil)
	case n >= 0 && n <= inlineRelay:
		buf := make([]byte, n)
		_, err := io.ReadFull(body, buf)
		resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
		if err != nil {
			u.close()
			c.Response.Reset()
			writeError(c.RequestCtx, fail(502, api.CodeNodeUnavailable, "owner's response ended early: "+err.Error()))
			return
		}
		c.Response.SetBodyRaw(buf) // buf is this response's own: no copy
		finish(pool, u, reusable)
	case n >= 0:
		c.Response.SetBodyStream(&relayBody{r: body, resp: resp, u: u, pool: pool, left: int64(n), reusable: reusable}, n)
	default:
		// An open-ended body (a subscription, a watch, NDJSON) may stay
		// quiet for long: the client is watched meanwhile, and when it
		// leaves the connection to the owner is closed, so the owner ends
		// the stream at once (a subscription takes no delivery for a
		// consumer that is gone) rather than at its next write.
		watched, unwatch := c.untilClientGone()
		stopWatch := context.AfterFunc(watched, func() {
			if errors.Is(context.Cause(watched), errClientGone) {
				u.close()
			}
		})
		c.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer u.close() // a chunked or close-delimited body: not reused
			defer fasthttp.ReleaseResponse(resp)
			defer resp.CloseBodyStream()
			defer unwatch()
			defer stopWatch()
			buf := make([]byte, 32<<10)
			for {
				k, err := body.Read(buf)
				if k > 0 {
					if _, werr := w.Write(buf[:k]); werr != nil || w.Flush() != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

func finish(pool *peerPool, u *peerConnUp, reusable bool) {
	if reusable {
		pool.put(u)
		return
	}
	u.close()
}

// relayBody streams a response body of known length to the client and
// returns the connection to the pool when it was read to its end.
type relayBody struct {
	r        io.Reader
	resp     *fasthttp.Response
	u        *peerConnUp
	pool     *peerPool
	left     int64
	reusable bool
	done     bool
}

func (b *relayBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close is called by fasthttp when the response was written (or failed).
func (b *relayBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	finish(b.pool, b.u, b.reusable && b.left == 0)
	return nil
}
