package edge

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

// heartbeat is how often an idle watch stream is written to, so that a
// vanished client is noticed.
const heartbeat = 15 * time.Second

// untilShutdown returns the context of a stream: it ends as soon as the
// server starts shutting down, or when cancel is called.
func (c *call) untilShutdown() (context.Context, context.CancelFunc) {
	return context.WithCancel(c.srv.streams)
}

// streamCtx returns the context of a subscription stream: a child of the
// request's that also ends when the client closes its connection (noticed
// at once, not at the next write, so that a gone consumer takes no more
// deliveries) and when the server starts shutting down. The stream's
// writer must call end before it returns: it stops watching the
// connection, which fasthttp then reads again.
func (c *call) streamCtx() (ctx context.Context, end func()) {
	watched, unwatch := c.untilClientGone()
	ctx, cancel := context.WithCancel(watched)
	stop := context.AfterFunc(c.srv.streams, cancel)
	return ctx, func() {
		stop()
		cancel()
		unwatch()
	}
}

func (s *Server) queueSubscribe(c *call) error          { return s.subscribe(c, false) }
func (s *Server) queueSubscribeWithState(c *call) error { return s.subscribe(c, true) }

// subscribe streams deliveries as one multipart/related response: a meta
// and a payload part per message, flushed as each arrives, with at most
// page_size (the prefetch) unsettled at a time. With a txn_id each delivery
// is enlisted in that transaction (its commit acks it, its rollback nacks
// it), as a dequeue's are. The stream ends when the client goes away
// (streamCtx), the server shuts down, or the client
// unsubscribes the id sent in X-Lockd-Subscription-ID (queueUnsubscribe):
// then the deliveries already made are written and the body is closed.
func (s *Server) subscribe(c *call, stateful bool) error {
	qs, err := s.queueService(true)
	if err != nil {
		return err
	}
	req, ref, err := c.dequeueParams()
	if err != nil {
		return err
	}
	sub, err := qs.Subscribe(c.ctx, queues.SubscribeRequest{
		Ref: ref, Owner: req.Owner, Visibility: seconds(req.VisibilityTimeoutSeconds),
		Prefetch: int(req.PageSize), TxnID: req.TxnID, Stateful: stateful,
	})
	if err != nil {
		return err
	}
	id := rand.Text()
	s.subs.Store(id, &subStream{ref: ref, sub: sub})
	ctx, end := c.streamCtx()
	boundary := newBoundary()
	c.Response.Header.Set(api.HeaderSubscriptionID, id)
	c.SetContentType("multipart/related; boundary=" + boundary)
	c.SetStatusCode(200)
	c.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer end()
		defer sub.Close()
		defer s.subs.Delete(id)
		pw := newPartWriter(w, boundary)
		// A preamble line (ignored by multipart readers) sends the headers
		// now rather than with the first delivery.
		if _, err := w.WriteString("\r\n"); err != nil || w.Flush() != nil {
			return
		}
		for {
			ds, err := sub.Next(ctx)
			if err == nil {
				// An enlisted delivery that cannot join its transaction
				// (decided meanwhile, say) is released and ends the stream.
				err = s.enlistDeliveries(ctx, qs, ref, req.TxnID, ds)
			}
			if err != nil {
				_ = pw.close()
				return
			}
			if err := streamDeliveries(ctx, qs, pw, w, ds); err != nil {
				return
			}
		}
	})
	return nil
}

// subStream is an open subscription stream, by the id its response named.
type subStream struct {
	ref queues.Ref
	sub *queues.Subscription
}

// queueUnsubscribe ends a subscription stream gracefully (lockd
// extension, docs/WIRE-FACTS.md): the queue makes it no more deliveries,
// the stream writes those already made and closes its body. The client
// reads them to the end and returns those it will not handle, so none
// stays leased until its visibility timeout. An id that names no open
// stream of the queue (ended meanwhile, or never) is 404 not_found.
func (s *Server) queueUnsubscribe(c *call) error {
	if _, err := s.queueService(false); err != nil {
		return err
	}
	var req api.QueueUnsubscribeRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	ref, err := c.queueRef(first(req.Namespace, c.query("namespace")), first(req.Queue, c.query("queue")))
	if err != nil {
		return err
	}
	if req.SubscriptionID == "" {
		return badRequest(api.CodeMissingFields, "subscription_id is required")
	}
	v, ok := s.subs.Load(req.SubscriptionID)
	if !ok || v.(*subStream).ref != ref {
		return fail(404, api.CodeNotFound, "no open subscription stream with this id on this queue")
	}
	if err := v.(*subStream).sub.Stop(c.ctx); err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.QueueUnsubscribeResponse{Stopped: true, CorrelationID: c.cid})
	return nil
}

// streamDeliveries writes and flushes deliveries; those that could not be
// written are released.
func streamDeliveries(ctx context.Context, qs *queues.Service, pw *partWriter, w *bufio.Writer, ds []*queues.Delivery) error {
	for i := range ds {
		bodies, err := openPayloads(ctx, ds[i:i+1])
		if err == nil {
			err = writeDeliveries(pw, ds[i:i+1], bodies, false)
			closeAll(bodies)
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			releaseDetached(qs, ds[i:])
			return err
		}
	}
	return nil
}

// queueWatch streams queue_watch server-sent events: the current state at
// once, then each change of availability; comments keep an idle stream
// alive.
func (s *Server) queueWatch(c *call) error {
	qs, err := s.queueService(true)
	if err != nil {
		return err
	}
	var req api.QueueWatchRequest
	if err := c.decodeStrict(&req, true); err != nil {
		return err
	}
	ref, err := c.queueRef(first(req.Namespace, c.query("namespace")), first(req.Queue, c.query("queue")))
	if err != nil {
		return err
	}
	watch, err := qs.Watch(c.ctx, ref)
	if err != nil {
		return err
	}
	ctx, cancel := c.untilShutdown()
	cid := c.cid
	c.SetContentType("text/event-stream")
	c.Response.Header.Set("Cache-Control", "no-cache")
	c.SetStatusCode(200)
	c.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer watch.Close()
		for {
			next, stop := context.WithTimeout(ctx, heartbeat)
			ev, err := watch.Next(next)
			stop()
			switch {
			case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
				_, err = w.WriteString(": keepalive\n\n")
			case err != nil:
				return
			default:
				err = writeEvent(w, ev, cid)
			}
			if err != nil || w.Flush() != nil {
				return
			}
		}
	})
	return nil
}

func writeEvent(w *bufio.Writer, ev queues.Event, cid string) error {
	b, err := json.Marshal(api.QueueWatchEvent{
		Namespace: ev.Namespace, Queue: ev.Name(), Available: ev.Available, HeadMessageID: ev.HeadID,
		ChangedAtUnix: ev.ChangedAt.Unix(), Ready: int64(ev.Ready), InFlight: int64(ev.InFlight), CorrelationID: cid,
	})
	if err != nil {
		return err
	}
	_, err = w.WriteString("event: queue_watch\ndata: " + string(b) + "\n\n")
	return err
}
