package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// call describes one API request; do sends it with retries.
type call struct {
	method string
	path   string
	query  url.Values
	header http.Header
	// body is a replayable request body; stream a streamed one, which is
	// replayed only when it is an io.Seeker.
	body        []byte
	stream      io.Reader
	contentType string
	// size is the length of stream when known (> 0).
	size int64
	// wait is how long the server may hold the request (blocking acquire,
	// long poll); it is added to the attempt timeout.
	wait time.Duration
	// noRetry sends the request once.
	noRetry bool
	// buffered reads the whole answer within the attempt timeout (JSON
	// answers); otherwise the body streams and only the headers are
	// bounded by it.
	buffered bool
}

func newCall(method, path string) *call {
	return &call{method: method, path: path, query: url.Values{}, header: http.Header{}}
}

// jsonBody sets a JSON request body.
func (r *call) jsonBody(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("lockd: encode %s request: %w", r.path, err)
	}
	r.body, r.contentType = b, "application/json"
	return nil
}

var errAttemptTimeout = errors.New("lockd: request timed out")

// do sends r, retrying per the client's policy, and returns a successful
// (< 400) response whose body the caller must close. Error answers become
// *APIError.
func (c *Client) do(ctx context.Context, r *call) (*http.Response, error) {
	replay, err := newReplayer(r)
	if err != nil {
		return nil, err
	}
	retries := c.cfg.retries
	if r.noRetry {
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		idx := c.cur.Load()
		ep := c.eps[int(idx)%len(c.eps)]
		resp, err := c.attempt(ctx, ep, r, replay)
		if err == nil {
			return resp, nil
		}
		retry, rotate := retryable(ctx, err)
		if retry && !replay.ok() {
			retry = false
		}
		if !retry || attempt >= retries {
			return nil, err
		}
		var hint time.Duration
		var ae *APIError
		if errors.As(err, &ae) {
			hint = ae.RetryAfter
		}
		if rotate && len(c.eps) > 1 {
			next := idx + 1
			if ae != nil && ae.LeaderEndpoint != "" {
				// A passive node names the active one: go there directly
				// when it is one of ours.
				if j := c.endpointIndex(ae.LeaderEndpoint); j >= 0 {
					next = idx - idx%uint32(len(c.eps)) + uint32(j)
				}
			}
			c.cur.CompareAndSwap(idx, next)
		}
		pause := backoff(attempt, c.cfg.backoffBase, c.cfg.backoffMax, hint)
		c.cfg.logger.Debug("lockd: retrying", "method", r.method, "path", r.path, "endpoint", ep.raw,
			"attempt", attempt+1, "pause", pause, "err", err)
		if serr := sleep(ctx, pause); serr != nil {
			return nil, fmt.Errorf("%w; gave up retrying: %w", err, serr)
		}
	}
}

// attempt sends r once to ep within the attempt timeout. On success the
// timeout stops once the headers arrived; closing the body ends the
// attempt's context.
func (c *Client) attempt(ctx context.Context, ep *endpoint, r *call, replay *replayer) (*http.Response, error) {
	body, err := replay.body()
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancelCause(ctx)
	timer := newAttemptTimer(c.cfg.httpTimeout+r.wait, func() { cancel(errAttemptTimeout) })
	if r.stream != nil && body != nil {
		body = &startAtEOF{r: body, t: timer}
	} else {
		timer.start()
	}
	req, err := c.newRequest(actx, ep, r, body)
	if err != nil {
		timer.stop()
		cancel(nil)
		return nil, err
	}
	resp, err := ep.hc.Do(req)
	if err != nil {
		timer.stop()
		cause := context.Cause(actx)
		cancel(nil)
		if errors.Is(cause, errAttemptTimeout) && ctx.Err() == nil {
			return nil, fmt.Errorf("lockd: %s %s: no answer from %s within %s: %w", r.method, r.path, ep.raw, c.cfg.httpTimeout+r.wait, errAttemptTimeout)
		}
		return nil, &transportError{method: r.method, path: r.path, endpoint: ep.raw, err: err}
	}
	c.noteDrain(resp)
	if resp.StatusCode >= 400 {
		defer cancel(nil)
		defer timer.stop()
		return nil, c.apiError(r, resp)
	}
	if r.buffered {
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		timer.stop()
		cause := context.Cause(actx)
		cancel(nil)
		if err != nil {
			if errors.Is(cause, errAttemptTimeout) {
				err = fmt.Errorf("%w: %w", errAttemptTimeout, err)
			}
			return nil, &transportError{method: r.method, path: r.path, endpoint: ep.raw, err: fmt.Errorf("read answer: %w", err)}
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		return resp, nil
	}
	timer.stop()
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, ep *endpoint, r *call, body io.Reader) (*http.Request, error) {
	u := ep.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("lockd: build %s request: %w", r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	switch {
	case r.body != nil:
		req.ContentLength = int64(len(r.body))
	case r.stream != nil && r.size > 0:
		req.ContentLength = r.size
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.cfg.userAgent != "" {
		req.Header.Set("User-Agent", c.cfg.userAgent)
	}
	if req.Header.Get(api.HeaderCorrelationID) == "" {
		if id := CorrelationIDFromContext(ctx); id != "" {
			req.Header.Set(api.HeaderCorrelationID, id)
		}
	}
	return req, nil
}

// noteDrain reacts to a server's Shutdown-Imminent announcement.
func (c *Client) noteDrain(resp *http.Response) {
	if v := resp.Header.Get(api.HeaderShutdownImminent); v != "" && !strings.EqualFold(v, "false") {
		c.observeDrain()
	}
}

// apiError turns an error answer into *APIError and closes its body.
func (c *Client) apiError(r *call, resp *http.Response) error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env api.ErrorResponse
	ae := &APIError{Status: resp.StatusCode, Method: r.method, Path: r.path,
		CorrelationID: resp.Header.Get(api.HeaderCorrelationID), RetryAfter: retryAfter(resp.Header),
		QRFState: resp.Header.Get(api.HeaderQRFState)}
	if json.Unmarshal(data, &env) == nil && env.Error != "" {
		ae.Code, ae.Detail = env.Error, env.Detail
		ae.CurrentVersion, ae.CurrentETag, ae.LeaderEndpoint = env.CurrentVersion, env.CurrentETag, env.LeaderEndpoint
		if ae.RetryAfter == 0 && env.RetryAfterSeconds > 0 {
			ae.RetryAfter = time.Duration(env.RetryAfterSeconds) * time.Second
		}
	} else {
		ae.Code = "http_" + http.StatusText(resp.StatusCode)
		ae.Code = strings.ToLower(strings.ReplaceAll(ae.Code, " ", "_"))
		ae.Detail = strings.TrimSpace(string(data))
	}
	return ae
}

// doJSON sends r and decodes a JSON answer into out (nil: discard).
func (c *Client) doJSON(ctx context.Context, r *call, out any) (http.Header, error) {
	r.buffered = true
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.Header, fmt.Errorf("lockd: %s %s: decode answer: %w", r.method, r.path, err)
	}
	return resp.Header, nil
}

// transportError is a request that got no HTTP answer. It unwraps to the
// *url.Error of net/http.
type transportError struct {
	method, path, endpoint string
	err                    error
}

func (e *transportError) Error() string {
	inner := e.err
	var ue *url.Error
	if errors.As(inner, &ue) {
		inner = ue.Err
	}
	return fmt.Sprintf("lockd: %s %s via %s: %v", e.method, e.path, e.endpoint, inner)
}

func (e *transportError) Unwrap() error { return e.err }

// cancelBody ends the attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// replayer hands out the request body for each attempt.
type replayer struct {
	r      *call
	seeker io.Seeker
	start  int64
	used   bool
}

func newReplayer(r *call) (*replayer, error) {
	p := &replayer{r: r}
	if s, ok := r.stream.(io.Seeker); ok && r.stream != nil {
		off, err := s.Seek(0, io.SeekCurrent)
		if err == nil {
			p.seeker, p.start = s, off
		}
	}
	return p, nil
}

// ok reports whether another attempt can send the body again.
func (p *replayer) ok() bool { return p.r.stream == nil || p.seeker != nil || !p.used }

func (p *replayer) body() (io.Reader, error) {
	switch {
	case p.r.body != nil:
		return bytes.NewReader(p.r.body), nil
	case p.r.stream == nil:
		return nil, nil
	case p.used && p.seeker != nil:
		if _, err := p.seeker.Seek(p.start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("lockd: rewind request body: %w", err)
		}
	}
	p.used = true
	return io.NopCloser(p.r.stream), nil
}

// endpointIndex is the index of the client endpoint whose URL is u, or -1.
func (c *Client) endpointIndex(u string) int {
	u = strings.TrimRight(u, "/")
	for i, ep := range c.eps {
		if strings.TrimRight(ep.raw, "/") == u {
			return i
		}
	}
	return -1
}
