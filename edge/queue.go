package edge

import (
	"errors"
	"strings"
	"time"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

func (s *Server) queueRoutes(add addFunc) {
	add("/v1/queue/enqueue", "queue.enqueue", "", s.queueEnqueue)
	add("/v1/queue/dequeue", "queue.dequeue", "", s.queueDequeue)
	add("/v1/queue/dequeueWithState", "queue.dequeue_with_state", "", s.queueDequeueWithState)
	add("/v1/queue/subscribe", "queue.subscribe", "", s.queueSubscribe)
	add("/v1/queue/subscribeWithState", "queue.subscribe_with_state", "", s.queueSubscribeWithState)
	add("/v1/queue/unsubscribe", "queue.unsubscribe", "POST", s.queueUnsubscribe)
	add("/v1/queue/ack", "queue.ack", "", s.queueAck)
	add("/v1/queue/nack", "queue.nack", "", s.queueNack)
	add("/v1/queue/extend", "queue.extend", "", s.queueExtend)
	add("/v1/queue/stats", "queue.stats", "", s.queueStats)
	add("/v1/queue/watch", "queue.watch", "", s.queueWatch)
	add("/v1/queue/dlq/list", "queue.dlq.list", "POST", s.queueDLQList)
	add("/v1/queue/dlq/requeue", "queue.dlq.requeue", "POST", s.queueDLQRequeue)
}

// queueService returns the queue service, refusing with 501 when the server
// has none and, for calls that start new work (intake), with 503 while
// the server drains.
func (s *Server) queueService(intake bool) (*queues.Service, error) {
	if s.queues == nil {
		return nil, fail(501, api.CodeQueueDisabled, "queue service not configured")
	}
	if intake && s.draining.Load() {
		he := fail(503, api.CodeShutdownDraining, "server is draining; retry on another node")
		he.retryAfter = time.Second
		return nil, he
	}
	return s.queues, nil
}

// queueRef resolves and validates namespace and queue name; "NAME:dlq"
// addresses the queue's dead-letter queue.
func (c *call) queueRef(ns, queue string) (queues.Ref, error) {
	ns, err := c.namespace(ns)
	if err != nil {
		return queues.Ref{}, err
	}
	if strings.TrimSpace(queue) == "" {
		return queues.Ref{}, badRequest(api.CodeMissingQueue, "queue is required")
	}
	name, dlq, err := queues.ParseName(queue)
	if err != nil {
		return queues.Ref{}, badRequest(api.CodeInvalidQueue, err.Error())
	}
	// A queue and its dead-letter queue live on one node (the base name's).
	if err := c.route(cluster.KindQueue, ns, name); err != nil {
		return queues.Ref{}, err
	}
	return queues.Ref{Namespace: ns, Queue: name, DLQ: dlq}, nil
}

// deliveryRef is queueRef for ack, nack and extend, which name a bad
// queue invalid_queue_key (as lockd v0.9).
func (c *call) deliveryRef(ns, queue string) (queues.Ref, error) {
	ref, err := c.queueRef(ns, queue)
	var he *httpError
	if errors.As(err, &he) && he.code == api.CodeInvalidQueue {
		he.code = api.CodeInvalidQueueKey
	}
	return ref, err
}

// maxSeconds bounds wire durations so that they cannot overflow.
const maxSeconds = 1 << 32

// seconds converts a wire duration in seconds (negative = zero).
func seconds(n int64) time.Duration { return time.Duration(min(max(n, 0), maxSeconds)) * time.Second }

// queueWait resolves wait_seconds like lockd v0.9: negative answers at
// once, 0 waits up to --acquire-block, N waits N seconds. It also returns
// the Retry-After of the 409 sent when nothing arrives.
func (s *Server) queueWait(waitSeconds int64) (wait, retry time.Duration) {
	switch {
	case waitSeconds < 0:
		return 0, 0
	case waitSeconds == 0:
		return s.cfg.AcquireBlock, time.Second
	}
	return seconds(waitSeconds), seconds(waitSeconds)
}

func emptyQueue(err error, retry time.Duration) error {
	if errors.Is(err, queues.ErrEmpty) {
		he := fail(409, api.CodeWaiting, "no messages available")
		he.retryAfter = retry
		return he
	}
	return err
}

// fencingToken checks a fencing token from a JSON body.
func fencingToken(n int64) (uint64, error) {
	if n < 0 {
		return 0, badRequest(api.CodeInvalidFencingToken, "fencing_token must not be negative")
	}
	return uint64(n), nil
}

func stateProof(leaseID string, fencing int64) *queues.StateProof {
	if strings.TrimSpace(leaseID) == "" {
		return nil
	}
	return &queues.StateProof{LeaseID: leaseID, Fencing: uint64(max(fencing, 0))}
}

func (s *Server) queueAck(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.AckRequest
	if err := c.decodeControl(&req); err != nil {
		return err
	}
	if req.Queue == "" || req.MessageID == "" || req.LeaseID == "" {
		return badRequest(api.CodeMissingFields, "queue, message_id, lease_id are required")
	}
	ref, err := c.deliveryRef(first(req.Namespace, c.query("namespace")), req.Queue)
	if err != nil {
		return err
	}
	fencing, err := fencingToken(req.FencingToken)
	if err != nil {
		return err
	}
	if done, err := s.settleInTxn(c, ref, req.MessageID, req.LeaseID, fencing, req.TxnID, true); done || err != nil {
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 200, api.AckResponse{Acked: true})
		return nil
	}
	res, err := qs.Ack(c.ctx, queues.AckRequest{
		Ref: ref, ID: req.MessageID, State: stateProof(req.StateLeaseID, req.StateFencingToken),
		Proof: queues.Proof{LeaseID: req.LeaseID, Fencing: fencing, TxnID: req.TxnID, MetaETag: req.MetaETag},
	})
	if err != nil {
		return err
	}
	c.setCorrelation(res.CorrelationID)
	writeObject(c.RequestCtx, func(o *jsonObject) {
		o.bool("acked", true)
		o.str("correlation_id", res.CorrelationID, true)
	})
	return nil
}

func (s *Server) queueNack(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.NackRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	if req.Queue == "" || req.MessageID == "" || req.LeaseID == "" || req.MetaETag == "" {
		return badRequest(api.CodeMissingFields, "queue, message_id, lease_id, meta_etag are required")
	}
	// lockd v0.9 trims and lower-cases the intent.
	intent := queues.NackIntent(strings.ToLower(strings.TrimSpace(string(req.Intent))))
	if intent != "" && intent != queues.IntentFailure && intent != queues.IntentDefer {
		return badRequest(api.CodeInvalidNackIntent, `intent must be "failure" or "defer"`)
	}
	ref, err := c.deliveryRef(first(req.Namespace, c.query("namespace")), req.Queue)
	if err != nil {
		return err
	}
	fencing, err := fencingToken(req.FencingToken)
	if err != nil {
		return err
	}
	if done, err := s.settleInTxn(c, ref, req.MessageID, req.LeaseID, fencing, req.TxnID, false); done || err != nil {
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 200, api.NackResponse{Requeued: true})
		return nil
	}
	res, err := qs.Nack(c.ctx, queues.NackRequest{
		Ref: ref, ID: req.MessageID, Intent: intent, Delay: seconds(req.DelaySeconds), LastError: req.LastError,
		Proof: queues.Proof{LeaseID: req.LeaseID, Fencing: fencing, TxnID: req.TxnID, MetaETag: req.MetaETag},
		State: stateProof(req.StateLeaseID, req.StateFencingToken),
	})
	if err != nil {
		return err
	}
	c.setCorrelation(res.CorrelationID)
	writeJSON(c.RequestCtx, 200, api.NackResponse{
		Requeued: !res.DeadLettered, DeadLettered: res.DeadLettered, MetaETag: res.MetaETag, CorrelationID: res.CorrelationID,
	})
	return nil
}

func (s *Server) queueExtend(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.ExtendRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	if req.Queue == "" || req.MessageID == "" || req.LeaseID == "" || req.MetaETag == "" {
		return badRequest(api.CodeMissingFields, "queue, message_id, lease_id, meta_etag are required")
	}
	ref, err := c.deliveryRef(first(req.Namespace, c.query("namespace")), req.Queue)
	if err != nil {
		return err
	}
	fencing, err := fencingToken(req.FencingToken)
	if err != nil {
		return err
	}
	res, err := qs.Extend(c.ctx, queues.ExtendRequest{
		Ref: ref, ID: req.MessageID, By: seconds(req.ExtendBySeconds),
		Proof: queues.Proof{LeaseID: req.LeaseID, Fencing: fencing, TxnID: req.TxnID, MetaETag: req.MetaETag},
		State: stateProof(req.StateLeaseID, req.StateFencingToken),
	})
	if err != nil {
		return err
	}
	c.setCorrelation(res.CorrelationID)
	out := api.ExtendResponse{
		LeaseExpiresAtUnix: res.LeaseExpires.Unix(), VisibilityTimeoutSeconds: int64(res.Visibility / time.Second),
		MetaETag: res.MetaETag, CorrelationID: res.CorrelationID,
	}
	if !res.StateLeaseExpires.IsZero() {
		out.StateLeaseExpiresAtUnix = res.StateLeaseExpires.Unix()
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

// setCorrelation makes the response carry the message's correlation id.
func (c *call) setCorrelation(cid string) {
	if cid != "" {
		c.Response.Header.Set(api.HeaderCorrelationID, cid)
	}
}

func (s *Server) queueStats(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.QueueStatsRequest
	if err := c.decodeStrict(&req, true); err != nil {
		return err
	}
	ref, err := c.queueRef(first(c.query("namespace"), req.Namespace), first(c.query("queue"), req.Queue))
	if err != nil {
		return err
	}
	st, err := qs.Stats(c.ctx, ref)
	if err != nil {
		return err
	}
	out := api.QueueStatsResponse{
		Namespace: ref.Namespace, Queue: ref.Name(), WaitingConsumers: int64(st.Waiting),
		PendingCandidates: int64(st.Ready), TotalConsumers: st.TotalConsumers,
		HasActiveWatcher: st.Waiting+st.Subscribers+st.Watchers > 0, Available: st.Head != nil,
		Ready: int64(st.Ready), Delayed: int64(st.Delayed), InFlight: int64(st.InFlight),
		Subscribers: int64(st.Subscribers), DeadLetters: int64(st.DeadLetters), CorrelationID: c.cid,
	}
	if h := st.Head; h != nil {
		out.HeadMessageID = h.ID
		out.HeadEnqueuedAtUnix = h.EnqueuedAt.Unix()
		out.HeadNotVisibleUntilUnix = h.NotVisibleUntil.Unix()
		out.HeadAgeSeconds = int64(max(time.Since(h.EnqueuedAt), 0) / time.Second)
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}
