package actors

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Durable is a write a reply reflects; Wait returns once it is durable (or
// can never be).
type Durable interface{ Wait() error }

// Request is a message whose sender waits for exactly one reply (Await).
// The actor answers it once with Answer and, if it queues the request
// instead of answering at once, calls Park first.
type Request struct {
	Op    any
	reply chan Reply
	// parked is closed by Park; nil unless the caller waits with Blocking,
	// so requests that can never wait pay for no channel.
	parked chan struct{}
	// span is the caller's hand-off span when it is traced (trace.go).
	span trace.SpanContext
}

// Reply is an actor's answer. Durable, when set, must be waited for
// before the caller acts on Val.
type Reply struct {
	Val     any
	Err     error
	Durable Durable
}

// NewRequest returns a request carrying op.
func NewRequest(op any) *Request { return &Request{Op: op, reply: make(chan Reply, 1)} }

// Notifier is a Durable that can tell when it is durable instead of being
// waited for (the disk store's group-commit rounds).
type Notifier interface {
	// OnDurable arranges for fn to run once the write is durable, with
	// the sync error if it failed, and reports true; it reports false,
	// without calling fn, when the write already is durable (or failed).
	// fn must not block.
	OnDurable(fn func(error)) bool
}

// Answer replies to r. An actor answers each request exactly once; Answer
// never blocks. A successful reply whose Durable is a Notifier is held
// back until it is durable, so the caller wakes once, to a reply it can
// act on, instead of once for the reply and again for the sync.
func (r *Request) Answer(val any, err error, d Durable) {
	if n, ok := d.(Notifier); ok && err == nil {
		if n.OnDurable(func(serr error) { r.reply <- Reply{Val: val, Durable: synced(serr)} }) {
			return
		}
	}
	r.reply <- Reply{Val: val, Err: err, Durable: d}
}

// synced is the Durable of a reply held back until its write was durable:
// nil, or the sync failure.
func synced(err error) Durable {
	if err == nil {
		return nil
	}
	return failed{err}
}

type failed struct{ err error }

func (f failed) Wait() error { return f.err }

// Park tells a Blocking caller that its request now waits in the actor (a
// blocked acquire, a long-poll dequeue): only then does the caller arm its
// timeout and client watch. An actor parks a request at most once.
func (r *Request) Park() {
	if r.parked != nil {
		close(r.parked)
	}
}

// Blocking bounds a request that the actor may park. Once parked, the
// caller gives up after Timeout, or when the context While returns ends
// (While is optional; its func is called when the wait ends). While's
// context ends when the caller's client left; its func may take a last
// look and end the context then: a reply that arrives for a client that
// left just before (its leaving not yet seen by the watch) goes to
// Abandon, like one that comes after the watch fired, instead of to a
// caller nobody will hear.
type Blocking struct {
	Timeout time.Duration
	While   func() (context.Context, func())
	// Delivered, when set, is called with the successful reply of a
	// parked request that goes to its caller (the client was there at the
	// last look). Its abandon hands that reply to Abandon later, once,
	// from any goroutine: for a client that turns out to have left after
	// all, which only someone downstream can tell (a node that forwarded
	// the request and finds its own client gone).
	Delivered func(abandon func())
}

// wasParked reports whether the actor parked r (before answering it).
func (r *Request) wasParked() bool {
	select {
	case <-r.parked:
		return true
	default:
		return false
	}
}

// Blocks prepares r to be parked under b; call it before sending r.
func (r *Request) Blocks() { r.parked = make(chan struct{}) }

// WaitUpTo is the Blocking of a request that the actor itself answers
// once wait has passed (a blocked acquire, a long-poll dequeue): the
// caller's own bound adds a margin for scheduling. It is nil for
// wait <= 0 (the actor answers at once).
func WaitUpTo(wait time.Duration, while func() (context.Context, func()), delivered func(abandon func())) *Blocking {
	if wait <= 0 {
		return nil
	}
	return &Blocking{Timeout: wait + 10*time.Second, While: while, Delivered: delivered}
}

// Caller sends requests to a domain service's actors and waits for their
// replies.
type Caller struct {
	// Registry routes the requests.
	Registry *Registry
	// Unavailable wraps the error of a reply whose write could not be made
	// durable.
	Unavailable error
	// Inline lets Call run an actor whose mailbox is idle on the caller's
	// goroutine instead of handing the request to a dispatcher worker and
	// back (two goroutine hand-offs). Set it only for actors whose handlers
	// never wait long (their store applies writes without waiting for
	// durability: a store.Batcher), since a caller cannot leave at its
	// deadline while it runs the actor.
	Inline bool
	// Abandon withdraws the request r sent to actor id whose caller stopped
	// waiting (context done, parked timeout, While ended). It runs on its
	// own goroutine and must handle a reply that arrives later (e.g.
	// release what it grants).
	Abandon func(id string, r *Request)
}

// Call sends op to actor id and waits for its reply (Await); b bounds a
// request the actor may park (nil: it answers at once). With Inline, a
// live actor whose mailbox is idle handles op on the calling goroutine, so
// the caller must not hold anything the actor's handlers may wait for.
func (c *Caller) Call(ctx context.Context, id string, op any, b *Blocking) (any, error) {
	r := NewRequest(op)
	if trace.SpanFromContext(ctx).IsRecording() {
		return c.tracedCall(ctx, id, r, b)
	}
	if b != nil {
		r.Blocks()
	}
	c.send(id, r)
	return c.Await(ctx, id, r, b)
}

func (c *Caller) send(id string, r *Request) {
	if c.Inline {
		c.Registry.sendInline(id, r)
		return
	}
	c.Registry.Send(id, r)
}

// Await waits for the reply of r, sent to actor id, and for the
// durability of what it reflects. With b (and r.Blocks called before
// sending), a parked request is also bounded by b.Timeout and b.While.
// When the wait ends early, Abandon takes over r and Await returns the
// reason.
func (c *Caller) Await(ctx context.Context, id string, r *Request, b *Blocking) (any, error) {
	if b == nil {
		// A reply that is already there (the actor ran on this goroutine
		// and its write needs no sync wait) is taken without touching
		// ctx.Done, which a cancelCtx allocates on first use.
		select {
		case rep := <-r.reply:
			return c.wait(rep)
		default:
		}
		select {
		case rep := <-r.reply:
			return c.wait(rep)
		case <-ctx.Done():
			go c.Abandon(id, r)
			return nil, ctx.Err()
		}
	}
	parked := (<-chan struct{})(r.parked)
	var timeout <-chan time.Time
	var gone context.Context
	var goneDone <-chan struct{}
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		select {
		case rep := <-r.reply:
			if stop != nil {
				stop() // the watch's last look
				stop = nil
				if gone.Err() != nil {
					r.reply <- rep // Abandon takes it (the actor answers once)
					go c.Abandon(id, r)
					return nil, gone.Err()
				}
			}
			if b.Delivered != nil && rep.Err == nil && r.wasParked() {
				var once sync.Once
				b.Delivered(func() {
					once.Do(func() {
						r.reply <- rep
						c.Abandon(id, r)
					})
				})
			}
			return c.wait(rep)
		case <-ctx.Done():
			go c.Abandon(id, r)
			return nil, ctx.Err()
		case <-parked:
			parked = nil
			t := time.NewTimer(b.Timeout)
			defer t.Stop()
			timeout = t.C
			if b.While != nil {
				gone, stop = b.While()
				goneDone = gone.Done()
			}
		case <-goneDone:
			go c.Abandon(id, r)
			return nil, gone.Err()
		case <-timeout:
			go c.Abandon(id, r)
			return nil, context.DeadlineExceeded
		}
	}
}

func (c *Caller) wait(rep Reply) (any, error) {
	if rep.Err != nil {
		return nil, rep.Err
	}
	if rep.Durable != nil {
		if err := rep.Durable.Wait(); err != nil {
			return nil, fmt.Errorf("%w: sync: %w", c.Unavailable, err)
		}
	}
	return rep.Val, nil
}

// Late returns the reply of an abandoned request once it is durable, or
// false if it failed, was not durable, or did not come within d.
func (r *Request) Late(d time.Duration) (any, bool) {
	select {
	case rep := <-r.reply:
		if rep.Err != nil {
			return nil, false
		}
		if rep.Durable != nil && rep.Durable.Wait() != nil {
			return nil, false
		}
		return rep.Val, true
	case <-time.After(d):
		return nil, false
	}
}
