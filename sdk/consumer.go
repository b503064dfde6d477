package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// MessageHandler processes one delivery. If it returns without settling
// the message, the consumer acks it (nil error) or nacks it as a failure
// (error, recorded as last_error). A panic counts as an error.
type MessageHandler func(ctx context.Context, m *QueueMessage) error

// ConsumerOptions configure Subscribe.
type ConsumerOptions struct {
	// Namespace defaults to the client's.
	Namespace string
	// Owner identifies the consumer (required by the server).
	Owner string
	// Concurrency is how many handlers run at once (default 1).
	Concurrency int
	// Prefetch is how many deliveries the server may have outstanding
	// for this consumer (default Concurrency, at most 64).
	Prefetch int
	// Visibility of each delivery (default: the message's). While a
	// handler runs, its message is extended every half visibility.
	Visibility time.Duration
	// Stateful also leases each message's workflow state
	// (QueueMessage.State).
	Stateful bool
	// StopGrace is how long running handlers may go on after the
	// subscription's context ends before their own context is cancelled
	// (default 30s).
	StopGrace time.Duration
	// OnError is told about stream failures the consumer recovers from
	// by reconnecting (optional).
	OnError func(error)
}

// Subscribe consumes queue until ctx ends, calling h for each delivery
// with at most Concurrency handlers at once. It streams deliveries over
// one long-lived request (/v1/queue/subscribe), reconnecting with backoff
// when the stream breaks. When ctx ends it stops taking deliveries, lets
// running handlers finish (see StopGrace), returns unstarted deliveries
// to the queue and returns nil. Errors the server will keep giving (bad
// request, queue disabled) end it with that error.
func (c *Client) Subscribe(ctx context.Context, queue string, opts ConsumerOptions, h MessageHandler) error {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = opts.Concurrency
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 30 * time.Second
	}
	w := newWorkers(c, opts, h)
	err := c.consume(ctx, queue, opts, w)
	w.stop(opts.StopGrace)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// consume keeps a subscription stream open until ctx ends or the server
// refuses it for good.
func (c *Client) consume(ctx context.Context, queue string, opts ConsumerOptions, w *workers) error {
	path := "/v1/queue/subscribe"
	if opts.Stateful {
		path = "/v1/queue/subscribeWithState"
	}
	req := api.DequeueRequest{Namespace: c.ns(opts.Namespace), Queue: queue, Owner: opts.Owner,
		VisibilityTimeoutSeconds: seconds(opts.Visibility), PageSize: int64(min(opts.Prefetch, 64))}
	for failures := 0; ctx.Err() == nil; {
		err := c.stream(ctx, path, req, w)
		if ctx.Err() != nil {
			return nil
		}
		var ae *APIError
		if errors.As(err, &ae) {
			if retry, _ := retryable(ctx, err); !retry {
				return err
			}
		}
		if err == nil {
			failures = 0
			err = errors.New("lockd: subscription stream ended")
		} else {
			failures++
		}
		if opts.OnError != nil {
			opts.OnError(err)
		}
		if serr := sleep(ctx, backoff(failures, c.cfg.backoffBase, c.cfg.backoffMax, 0)); serr != nil {
			return nil
		}
	}
	return nil
}

// stream reads one subscription response, handing deliveries to w. When
// ctx ends it asks the server to end the stream (a lockd that names the
// stream in X-Lockd-Subscription-ID), reads what the server still
// delivers and returns it to the queue, so that no delivery stays leased
// until its visibility timeout; against a server that does not name its
// streams it closes the connection at once. A delivery whose payload is
// cut off is returned too (a failure, as a payload that cannot be read).
func (c *Client) stream(ctx context.Context, path string, req api.DequeueRequest, w *workers) error {
	r := newCall(http.MethodPost, path)
	if err := r.jsonBody(req); err != nil {
		return err
	}
	// The stream may outlive ctx while it drains; sctx ends it for good.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	abort := context.AfterFunc(ctx, cancel)
	resp, err := c.do(sctx, r)
	if !abort() {
		if err == nil {
			resp.Body.Close()
		}
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return fmt.Errorf("lockd: subscribe answered %q, want multipart/related", resp.Header.Get("Content-Type"))
	}
	id := resp.Header.Get(api.HeaderSubscriptionID)
	drain := context.AfterFunc(ctx, func() { c.endStream(sctx, cancel, req, id) })
	defer drain()
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		m, err := c.nextDelivery(mr)
		if err != nil {
			if m != nil {
				m.Close() // read in part: a failed delivery
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			w.giveBack(m) // delivered while the stream drains
			continue
		}
		w.dispatch(ctx, m)
	}
}

// endStream asks the server to end subscription stream id and gives it
// the close timeout to do so; then, or at once when the server cannot
// (no id, or the request failed), cancel cuts the stream.
func (c *Client) endStream(sctx context.Context, cancel context.CancelFunc, req api.DequeueRequest, id string) {
	if id == "" || c.unsubscribe(req, id) != nil {
		cancel()
		return
	}
	t := time.NewTimer(c.cfg.closeTimeout)
	defer t.Stop()
	select {
	case <-t.C:
		cancel()
	case <-sctx.Done():
	}
}

// unsubscribe sends POST /v1/queue/unsubscribe for stream id.
func (c *Client) unsubscribe(req api.DequeueRequest, id string) error {
	ctx, cancel := c.timeoutCtx(c.cfg.closeTimeout)
	defer cancel()
	r := newCall(http.MethodPost, "/v1/queue/unsubscribe")
	r.buffered = true
	if err := r.jsonBody(api.QueueUnsubscribeRequest{Namespace: req.Namespace, Queue: req.Queue, SubscriptionID: id}); err != nil {
		return err
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// nextDelivery reads a meta part and its payload part (buffered, so the
// stream can move on). When the payload cannot be read whole it returns
// the delivery (without payload) with the error, for the caller to
// return it to the queue.
func (c *Client) nextDelivery(mr *multipart.Reader) (*QueueMessage, error) {
	part, err := mr.NextPart()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(part.FormName(), "meta") {
		return nil, fmt.Errorf("lockd: subscription: unexpected part %q", part.FormName())
	}
	var meta api.DequeueResponse
	if err := json.NewDecoder(part).Decode(&meta); err != nil {
		return nil, fmt.Errorf("lockd: subscription: meta part: %w", err)
	}
	m := c.newQueueMessage(meta)
	if part, err = mr.NextPart(); err != nil {
		return m, fmt.Errorf("lockd: subscription: payload of %s: %w", meta.Message.MessageID, err)
	}
	// Read exactly the payload: its part ends only when the next
	// delivery's delimiter arrives, which may be much later.
	if m.payload, err = spool(payloadReader(part, part.Header, meta.Message.PayloadBytes)); err != nil {
		m.payload = nil
		return m, fmt.Errorf("lockd: subscription: payload of %s: %w", meta.Message.MessageID, err)
	}
	return m, nil
}

// workers runs handlers with bounded concurrency.
type workers struct {
	c     *Client
	opts  ConsumerOptions
	h     MessageHandler
	slots chan struct{}
	wg    sync.WaitGroup
	// work is the handlers' context; it ends StopGrace after stop.
	work   context.Context
	cancel context.CancelFunc
}

func newWorkers(c *Client, opts ConsumerOptions, h MessageHandler) *workers {
	w := &workers{c: c, opts: opts, h: h, slots: make(chan struct{}, opts.Concurrency)}
	w.work, w.cancel = context.WithCancel(context.Background())
	return w
}

// dispatch starts a handler for m once a slot is free; if ctx ends first
// m goes back to the queue.
func (w *workers) dispatch(ctx context.Context, m *QueueMessage) {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		w.giveBack(m)
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.slots }()
		w.handle(m)
	}()
}

// giveBack returns an unhandled delivery without counting a failure.
func (w *workers) giveBack(m *QueueMessage) {
	ctx, cancel := w.c.timeoutCtx(w.c.cfg.closeTimeout)
	defer cancel()
	_ = m.Nack(ctx, NackOptions{Intent: api.NackIntentDefer})
}

func (w *workers) handle(m *QueueMessage) {
	ctx, cancel := context.WithCancel(w.work)
	defer cancel()
	go w.extendWhileRunning(ctx, m)
	err := runMessageHandler(ctx, w.h, m)
	sctx, scancel := w.c.timeoutCtx(w.c.cfg.closeTimeout)
	defer scancel()
	if err != nil {
		err = m.Nack(sctx, NackOptions{LastError: map[string]string{"detail": err.Error()}})
	} else {
		err = m.Ack(sctx)
	}
	if err != nil && !errors.Is(err, ErrMessageSettled) && w.opts.OnError != nil {
		w.opts.OnError(fmt.Errorf("lockd: settle %s: %w", m.ID(), err))
	}
	m.ClosePayload()
}

func runMessageHandler(ctx context.Context, h MessageHandler, m *QueueMessage) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("lockd: message handler panicked: %v", p)
		}
	}()
	return h(ctx, m)
}

// extendWhileRunning extends the delivery every half visibility until
// ctx ends or the message is settled.
func (w *workers) extendWhileRunning(ctx context.Context, m *QueueMessage) {
	vis := time.Duration(m.Meta().VisibilityTimeoutSeconds) * time.Second
	if vis <= 0 {
		return
	}
	t := time.NewTicker(max(vis/2, 500*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ectx, cancel := w.c.timeoutCtx(w.c.cfg.keepAliveTimeout)
		err := m.Extend(ectx, vis)
		cancel()
		if errors.Is(err, ErrMessageSettled) || isDeliveryGone(err) {
			return
		}
	}
}

// stop waits for running handlers, cancelling their context after grace.
func (w *workers) stop(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.cancel()
		<-done
	}
	w.cancel()
}
