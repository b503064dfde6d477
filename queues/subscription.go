package queues

import (
	"context"
	"sync"
	"time"

	"github.com/lockdhq/lockd/store"
)

// SubscribeRequest opens a standing dequeue.
type SubscribeRequest struct {
	Ref
	Owner      string
	Visibility time.Duration
	// Prefetch is how many deliveries may be unsettled (not acked, nacked
	// or timed out) at a time (default 1).
	Prefetch int
	TxnID    string
	Stateful bool
}

// Subscription delivers messages as they become ready, at most Prefetch
// unsettled at a time. Next is for one goroutine; Close may be called from
// any.
type Subscription struct {
	svc      *Service
	ref      Ref
	c        *consumer
	stateful bool

	mu      sync.Mutex
	pending []pushed
	err     error
	signal  chan struct{}
	once    sync.Once
}

type pushed struct {
	ds []*Delivery
	d  store.Durable
}

// Subscribe registers a subscription on the queue (or DLQ).
func (s *Service) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if req.Stateful && s.cfg.State == nil {
		return nil, fail(ErrNoState, "workflow state is not configured on this server")
	}
	sub := &Subscription{svc: s, ref: req.Ref, stateful: req.Stateful, signal: make(chan struct{}, 1)}
	sub.c = &consumer{dlq: req.DLQ, owner: req.Owner, vis: req.Visibility, txn: req.TxnID, credit: max(req.Prefetch, 1), sub: sub}
	if _, err := s.call(ctx, req.Ref, &opSubscribe{c: sub.c}); err != nil {
		return nil, err
	}
	return sub, nil
}

// push is called by the actor with deliveries made for this subscription.
func (s *Subscription) push(ds []*Delivery, d store.Durable) {
	s.mu.Lock()
	s.pending = append(s.pending, pushed{ds: ds, d: d})
	s.mu.Unlock()
	s.wake()
}

// close is called by the actor when the subscription can deliver no more.
func (s *Subscription) close(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) wake() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Next returns the next deliveries, waiting until there are some, the
// subscription ends or ctx is done.
func (s *Subscription) Next(ctx context.Context) ([]*Delivery, error) {
	for {
		s.mu.Lock()
		if len(s.pending) > 0 {
			p := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			return s.ready(ctx, p)
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-s.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ready waits for a push's durability and leases state when asked to;
// deliveries whose state cannot be leased are released and left out.
func (s *Subscription) ready(ctx context.Context, p pushed) ([]*Delivery, error) {
	if err := p.d.Wait(); err != nil {
		return nil, err
	}
	if !s.stateful {
		return p.ds, nil
	}
	out := p.ds[:0]
	for _, d := range p.ds {
		if s.svc.AttachState(ctx, d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Stop ends the subscription gracefully: the queue makes it no more
// deliveries, and Next returns those it already made before failing with
// ErrStopped, so that a stream can hand them over and end. Close must
// still be called. Stop may be called from any goroutine, more than once.
func (s *Subscription) Stop(ctx context.Context) error {
	if _, err := s.svc.call(ctx, s.ref, &opUnsubscribe{c: s.c}); err != nil {
		return err
	}
	// Every push for this subscription happened in an earlier turn of the
	// actor than the unsubscribe: none can follow this close.
	s.close(ErrStopped)
	return nil
}

// Close ends the subscription. Deliveries it made that Next did not return
// are released; returned ones stay in flight until acked, nacked or timed
// out.
func (s *Subscription) Close() {
	s.once.Do(func() {
		ctx, cancel := storeCtx()
		defer cancel()
		_, _ = s.svc.call(ctx, s.ref, &opUnsubscribe{c: s.c})
		s.close(fail(ErrUnavailable, "subscription closed"))
		s.mu.Lock()
		left := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, p := range left {
			if p.d.Wait() == nil {
				_ = s.svc.Release(ctx, p.ds)
			}
		}
	})
}

// Watch follows a queue's availability without consuming messages.
type Watch struct {
	svc  *Service
	ref  Ref
	w    *watcher
	once sync.Once
}

// Watch registers a watcher; the first Next returns the current state.
func (s *Service) Watch(ctx context.Context, ref Ref) (*Watch, error) {
	w := &Watch{svc: s, ref: ref, w: newWatcher(ref.DLQ)}
	if _, err := s.call(ctx, ref, &opWatch{w: w.w}); err != nil {
		return nil, err
	}
	return w, nil
}

// Next returns the latest event not yet returned, waiting for a change.
func (w *Watch) Next(ctx context.Context) (Event, error) {
	for {
		w.w.mu.Lock()
		ev, err := w.w.latest, w.w.err
		w.w.latest = nil
		w.w.mu.Unlock()
		if ev != nil {
			return *ev, nil
		}
		if err != nil {
			return Event{}, err
		}
		select {
		case <-w.w.signal:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close ends the watch.
func (w *Watch) Close() {
	w.once.Do(func() {
		ctx, cancel := storeCtx()
		defer cancel()
		_, _ = w.svc.call(ctx, w.ref, &opUnwatch{w: w.w})
	})
}
