package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// errRequestTimeout ends a request that ran past its deadline.
var errRequestTimeout = fmt.Errorf("edge: request deadline exceeded: %w", context.DeadlineExceeded)

// errRequestDone ends a request's context when its response is complete.
var errRequestDone = errors.New("edge: request done")

// rearmEvery is how stale the deadlines may get before a read of the
// request body pushes them forward: body reads arm timers at most once a
// second (more often only when the timeouts themselves are shorter), not
// once per read.
func (cfg *Config) rearmEvery() time.Duration {
	return min(time.Second, cfg.RequestTimeout/4, cfg.BodyIdleTimeout/4)
}

// deadline bounds one request: its context is a child of the server's
// base context (so Shutdown ends it) and is cancelled when its timer
// fires, at the latest RequestTimeout after the request started or after
// the last read of its body, or its wait plus WaitMargin for a blocking
// call. A streamed response (download, subscription, watch, documents
// query) stops the timer: it runs until it is written, the client leaves,
// or the server shuts down, and its context ends when fasthttp closes the
// stream.
//
// Its methods run on the handler's goroutine, except the cancel that a
// stream's close calls.
type deadline struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	timer     *time.Timer
	at        time.Time
	armed     time.Time // when the timer was last set
	streaming bool
	fire      atomic.Value // the context.CancelCauseFunc the timer calls
}

func (s *Server) newDeadline() *deadline {
	ctx, cancel := context.WithCancelCause(s.base)
	now := time.Now()
	d, _ := deadlines.Get().(*deadline)
	if d == nil {
		d = &deadline{}
		d.timer = time.AfterFunc(time.Hour, d.expire)
		d.timer.Stop()
	}
	d.ctx, d.cancel, d.at, d.armed, d.streaming = ctx, cancel, now.Add(s.cfg.RequestTimeout), now, false
	d.fire.Store(cancel)
	d.timer.Reset(s.cfg.RequestTimeout)
	return d
}

// deadlines holds finished deadlines whose timer was stopped before it
// fired, so that each request does not allocate a timer and its func.
var deadlines sync.Pool

// expire is the timer's func: it cancels the request the timer was last
// armed for (fire is atomic: the timer's goroutine reads it).
func (d *deadline) expire() {
	if f, ok := d.fire.Load().(context.CancelCauseFunc); ok {
		f(errRequestTimeout)
	}
}

// remaining is the time left before the deadline.
func (d *deadline) remaining() time.Duration {
	if d.streaming {
		return 0
	}
	return max(time.Until(d.at), time.Nanosecond)
}

// extendTo moves the deadline to at if that is later.
func (d *deadline) extendTo(at time.Time) {
	if d.streaming || !at.After(d.at) {
		return
	}
	d.at, d.armed = at, time.Now()
	d.timer.Reset(time.Until(at))
}

// stream lifts the deadline for a streamed response.
func (d *deadline) stream() {
	d.streaming = true
	d.timer.Stop()
}

// finish ends the request's context unless a stream still uses it.
// Its timer is reused by a later request only if it had not fired (Stop
// reports true: its func will not run for this request); the caller must
// not use d afterwards.
func (d *deadline) finish() {
	if !d.streaming {
		stopped := d.timer.Stop()
		d.cancel(errRequestDone)
		if stopped {
			d.ctx, d.cancel = nil, nil
			deadlines.Put(d)
		}
	}
}

// allowWait gives a blocking call (acquire with block, dequeue with wait)
// its wait plus the margin for the work after it.
func (c *call) allowWait(wait time.Duration) {
	if c.dl != nil && wait > 0 {
		c.dl.extendTo(time.Now().Add(wait + c.srv.cfg.WaitMargin))
	}
}

// timedOut reports whether err is the request's deadline firing, and
// names it so.
func (c *call) timedOut(err error) error {
	if c.dl != nil && errors.Is(err, context.Canceled) && errors.Is(context.Cause(c.ctx), errRequestTimeout) {
		return errRequestTimeout
	}
	return err
}

// The methods below shadow fasthttp.RequestCtx's, which call embeds, so
// that every handler's body streams take part in the deadline without
// knowing about it.

// timedBodyStream returns the streamed request body (nil when there is
// none); RequestBodyStream (cluster.go) reads it through. Each read pushes the connection's read deadline BodyIdleTimeout
// ahead (a slow upload of any size goes on while bytes keep coming; the
// header read timeout does not cut it) and restarts the request's
// deadline (it counts from the end of the upload).
func (c *call) timedBodyStream() io.Reader {
	if c.body != nil {
		return c.body
	}
	r := c.RequestCtx.RequestBodyStream()
	if r == nil {
		return nil
	}
	c.body = &timedBody{r: r, c: c}
	c.body.touch()
	return c.body
}

type timedBody struct {
	r       io.Reader
	c       *call
	touched time.Time
}

func (b *timedBody) Read(p []byte) (int, error) {
	if time.Since(b.touched) >= b.c.srv.cfg.rearmEvery() {
		b.touch()
	}
	return b.r.Read(p)
}

func (b *timedBody) touch() {
	now := time.Now()
	b.touched = now
	cfg := &b.c.srv.cfg
	b.c.SetReadDeadline(now.Add(cfg.BodyIdleTimeout))
	if dl := b.c.dl; dl != nil {
		dl.extendTo(now.Add(cfg.RequestTimeout))
	}
}

// SetBodyStream sets a streamed response body; the request's context
// lives until fasthttp closes the stream.
func (c *call) SetBodyStream(r io.Reader, size int) {
	if c.dl == nil {
		c.RequestCtx.SetBodyStream(r, size)
		return
	}
	c.RequestCtx.SetBodyStream(&streamEnd{Reader: r, end: c.handOff()}, size)
}

// SetBodyStreamWriter sets a response written by w on its own goroutine;
// the request's context lives until w returns.
func (c *call) SetBodyStreamWriter(w fasthttp.StreamWriter) {
	if c.dl == nil {
		c.RequestCtx.SetBodyStreamWriter(w)
		return
	}
	end := c.handOff()
	c.RequestCtx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		defer end()
		w(bw)
	})
}

// handOff lifts the deadline for a streamed response and returns what
// ends the request when the stream ends: its context, and its count in
// flight (a subscription counts as a consumer for as long as it streams).
// It may be called more than once (a handler that replaces its stream);
// only the first hand-off counts the request out.
func (c *call) handOff() func() {
	c.dl.stream()
	cancel := c.dl.cancel
	if !c.admitted {
		return func() { cancel(errRequestDone) }
	}
	c.admitted = false
	var once sync.Once
	qrf, kind := c.srv.qrf, c.class.Kind
	return func() {
		cancel(errRequestDone)
		once.Do(func() { qrf.End(kind) })
	}
}

// streamEnd closes the wrapped stream, then ends the request.
type streamEnd struct {
	io.Reader
	end func()
}

func (s *streamEnd) Close() error {
	var err error
	if c, ok := s.Reader.(io.Closer); ok {
		err = c.Close()
	}
	s.end()
	return err
}
