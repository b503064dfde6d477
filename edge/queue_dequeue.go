package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

// maxPageSize caps page_size (and a subscription's prefetch) as v0.9 does.
const maxPageSize = 64

func (s *Server) queueEnqueue(c *call) error {
	qs, err := s.queueService(true)
	if err != nil {
		return err
	}
	var (
		req  queues.EnqueueRequest
		prep *queues.Payload
	)
	err = readEnqueue(string(c.Request.Header.ContentType()), c.bodyReader(), s.cfg.SpoolMemory,
		func(meta api.EnqueueRequest, ct string, r io.Reader) error {
			if req, err = c.enqueueRequest(meta, ct); err != nil {
				return err
			}
			prep, err = qs.Prepare(c.ctx, req.Ref, r)
			return err
		})
	if err != nil {
		prep.Discard()
		return err
	}
	res, err := qs.EnqueuePrepared(c.ctx, req, prep)
	if err != nil {
		return err
	}
	writeObject(c.RequestCtx, func(o *jsonObject) { enqueueReply(o, res) })
	return nil
}

// enqueueReply writes api.EnqueueResponse field by field, as
// encoding/json would (the hottest queue reply).
func enqueueReply(o *jsonObject, res queues.EnqueueResult) {
	o.int("attempts", 0, false)
	o.str("correlation_id", res.CorrelationID, true)
	o.int("failure_attempts", 0, false)
	o.int("max_attempts", int64(res.MaxAttempts), false)
	o.str("message_id", res.ID, false)
	o.str("namespace", res.Namespace, false)
	o.int("not_visible_until_unix", res.NotVisibleUntil.Unix(), true)
	o.int("payload_bytes", res.Size, false)
	o.str("queue", res.Name(), false)
	o.int("visibility_timeout_seconds", int64(res.Visibility/time.Second), true)
}

// enqueueRequest validates an enqueue's meta; the query's queue and
// namespace are fallbacks.
func (c *call) enqueueRequest(meta api.EnqueueRequest, ct string) (queues.EnqueueRequest, error) {
	ref, err := c.queueRef(first(meta.Namespace, c.query("namespace")), first(meta.Queue, c.query("queue")))
	if err != nil {
		return queues.EnqueueRequest{}, err
	}
	if ref.DLQ {
		return queues.EnqueueRequest{}, badRequest(api.CodeInvalidQueue, "messages enter a dead-letter queue only by failing; enqueue to "+ref.Queue)
	}
	req := queues.EnqueueRequest{
		Ref: ref, Delay: seconds(meta.DelaySeconds), Visibility: seconds(meta.VisibilityTimeoutSeconds),
		TTL: seconds(meta.TTLSeconds), MaxAttempts: int(min(max(meta.MaxAttempts, 0), 1<<20)),
		ContentType: ct, CorrelationID: c.cid,
	}
	if len(meta.Attributes) > 0 {
		if req.Attributes, err = json.Marshal(meta.Attributes); err != nil {
			return queues.EnqueueRequest{}, badRequest(api.CodeInvalidBody, "attributes: "+err.Error())
		}
	}
	return req, nil
}

func (s *Server) queueDequeue(c *call) error          { return s.dequeue(c, false) }
func (s *Server) queueDequeueWithState(c *call) error { return s.dequeue(c, true) }

// dequeueParams decodes and validates a dequeue or subscribe request.
func (c *call) dequeueParams() (api.DequeueRequest, queues.Ref, error) {
	var req api.DequeueRequest
	if err := c.decodeStrict(&req, true); err != nil {
		return req, queues.Ref{}, err
	}
	ref, err := c.queueRef(first(req.Namespace, c.query("namespace")), first(req.Queue, c.query("queue")))
	if err != nil {
		return req, ref, err
	}
	req.Owner = strings.TrimSpace(first(req.Owner, c.query("owner")))
	if req.Owner == "" {
		return req, ref, badRequest(api.CodeMissingOwner, "owner is required")
	}
	if err := validTxn(req.TxnID); err != nil {
		return req, ref, err
	}
	req.PageSize = min(max(req.PageSize, 1), maxPageSize)
	return req, ref, nil
}

func (s *Server) dequeue(c *call, stateful bool) error {
	qs, err := s.queueService(true)
	if err != nil {
		return err
	}
	req, ref, err := c.dequeueParams()
	if err != nil {
		return err
	}
	wait, retry := s.queueWait(req.WaitSeconds)
	c.allowWait(wait)
	// A consumer that hangs up while its dequeue waits must not be handed
	// a message; the watch is armed only once the dequeue actually waits.
	ds, err := qs.Dequeue(c.ctx, queues.DequeueRequest{
		Ref: ref, Owner: req.Owner, Visibility: seconds(req.VisibilityTimeoutSeconds), Wait: wait,
		Max: int(req.PageSize), TxnID: req.TxnID, Stateful: stateful, WhileBlocked: c.untilClientGone, Delivered: c.delivered(),
	})
	if err != nil {
		return emptyQueue(err, retry)
	}
	if err := s.enlistDeliveries(c.ctx, qs, ref, req.TxnID, ds); err != nil {
		return err
	}
	c.setCorrelation(ds[0].CorrelationID)
	if small(ds) { // built straight into the response body
		boundary := newBoundary()
		c.SetContentType("multipart/related; boundary=" + boundary)
		c.SetStatusCode(200)
		c.Response.ResetBody()
		pw := newPartWriter(c.Response.BodyWriter(), boundary)
		bodies, _ := openPayloads(c.ctx, ds) // in memory: cannot fail
		_ = writeDeliveries(pw, ds, bodies, len(ds) > 1)
		_ = pw.close()
		return nil
	}
	bodies, err := openPayloads(c.ctx, ds)
	if err != nil {
		releaseDetached(qs, ds)
		return err
	}
	boundary := newBoundary()
	c.SetContentType("multipart/related; boundary=" + boundary)
	c.SetStatusCode(200)
	c.SetBodyStreamWriter(func(w *bufio.Writer) {
		pw := newPartWriter(w, boundary)
		_ = writeDeliveries(pw, ds, bodies, len(ds) > 1)
		_ = pw.close()
		closeAll(bodies)
	})
	return nil
}

// smallResponse bounds the dequeue answers built in memory rather than
// streamed.
const smallResponse = 1 << 20

// small reports whether every payload is inline and they are small in
// total: the answer is then built in memory, cheaper than a stream.
func small(ds []*queues.Delivery) bool {
	total := 0
	for _, d := range ds {
		p, ok := d.Inline()
		if !ok {
			return false
		}
		total += len(p)
	}
	return total <= smallResponse
}

// payload is an opened delivery payload.
type payload struct {
	r    io.ReadCloser
	size int64
}

func openPayloads(ctx context.Context, ds []*queues.Delivery) ([]payload, error) {
	out := make([]payload, 0, len(ds))
	for _, d := range ds {
		r, n, err := d.OpenPayload(ctx)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, payload{r: r, size: n})
	}
	return out, nil
}

func closeAll(ps []payload) {
	for _, p := range ps {
		p.r.Close()
	}
}

// writeDeliveries writes a meta part and a payload part per delivery, as
// lockd v0.9 does (parts are numbered when several share a response).
func writeDeliveries(pw *partWriter, ds []*queues.Delivery, bodies []payload, numbered bool) error {
	var num [24]byte
	for i, d := range ds {
		if err := pw.open(disposition("meta", "meta-", i, ".json", numbered), "Content-Type: application/json"); err != nil {
			return err
		}
		if err := json.NewEncoder(pw.w).Encode(api.DequeueResponse{Message: apiMessage(d), NextCursor: d.ID}); err != nil {
			return err
		}
		ctype := first(d.ContentType, "application/octet-stream")
		if strings.ContainsAny(ctype, "\r\n") {
			ctype = "application/octet-stream"
		}
		err := pw.open(disposition("payload", "payload-", i, "", numbered),
			"Content-Length: "+string(strconv.AppendInt(num[:0], bodies[i].size, 10)), "Content-Type: "+ctype)
		if err != nil {
			return err
		}
		if _, err := io.Copy(pw.w, bodies[i].r); err != nil {
			return err
		}
	}
	return nil
}

// disposition is a part's Content-Disposition header line.
func disposition(name, prefix string, i int, suffix string, numbered bool) string {
	if !numbered {
		return `Content-Disposition: form-data; name="` + name + `"`
	}
	return `Content-Disposition: form-data; name="` + name + `"; filename="` + prefix + strconv.Itoa(i) + suffix + `"`
}

// apiMessage is a delivery on the wire.
func apiMessage(d *queues.Delivery) api.Message {
	m := api.Message{
		Namespace: d.Namespace, Queue: d.Name(), MessageID: d.ID, Attempts: int64(d.Attempts),
		FailureAttempts: int64(d.FailureAttempts), MaxAttempts: int64(d.MaxAttempts),
		NotVisibleUntilUnix: d.NotVisibleUntil.Unix(), VisibilityTimeoutSeconds: int64(d.Visibility / time.Second),
		PayloadContentType: d.ContentType, PayloadBytes: d.Size, CorrelationID: d.CorrelationID,
		LeaseID: d.LeaseID, FencingToken: int64(d.Fencing),
		TxnID: d.TxnID, MetaETag: d.MetaETag,
	}
	if !d.LeaseExpires.IsZero() {
		m.LeaseExpiresAtUnix = d.LeaseExpires.Unix()
	}
	if len(d.Attributes) > 0 {
		_ = json.Unmarshal(d.Attributes, &m.Attributes)
	}
	if st := d.State; st != nil {
		m.StateLeaseID, m.StateFencingToken, m.StateTxnID = st.LeaseID, int64(st.Fencing), st.TxnID
		m.StateLeaseExpiresAtUnix, m.StateETag = st.ExpiresAt.Unix(), st.ETag
	}
	return m
}

// releaseDetached returns deliveries the client will never see to their
// queue (not counted as failures), outside the request's context, which
// may be over.
func releaseDetached(qs *queues.Service, ds []*queues.Delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = qs.Release(ctx, ds)
}
