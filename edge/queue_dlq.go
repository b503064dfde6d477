package edge

import (
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

// The dead-letter endpoints extend lockd v0.9. The DLQ of queue Q can
// also be dequeued, acked (drained), nacked, extended, watched and counted
// through the ordinary endpoints as the queue "Q:dlq".

func (s *Server) queueDLQList(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.QueueDLQListRequest
	if err := c.decodeStrict(&req, true); err != nil {
		return err
	}
	ref, err := c.queueRef(first(req.Namespace, c.query("namespace")), first(req.Queue, c.query("queue")))
	if err != nil {
		return err
	}
	if req.Limit < 0 {
		return badRequest(api.CodeInvalidBody, "limit must not be negative")
	}
	page, err := qs.ListDLQ(c.ctx, ref, req.StartAfter, int(min(req.Limit, 1000)))
	if err != nil {
		return err
	}
	out := api.QueueDLQListResponse{Namespace: ref.Namespace, Queue: ref.Base().Name(), NextCursor: page.Next,
		Messages: make([]api.QueueDLQMessage, 0, len(page.Messages))}
	for i := range page.Messages {
		out.Messages = append(out.Messages, dlqMessage(&page.Messages[i]))
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

func dlqMessage(m *queues.Message) api.QueueDLQMessage {
	out := api.QueueDLQMessage{
		Message:        apiMessage(&queues.Delivery{Message: *m}),
		EnqueuedAtUnix: m.EnqueuedAt.Unix(), LastError: m.LastError,
		DeadLetterReason: m.DeadReason, DeadLetteredAtUnix: m.DeadAt.Unix(),
	}
	if !m.ExpiresAt.IsZero() {
		out.ExpiresAtUnix = m.ExpiresAt.Unix()
	}
	return out
}

func (s *Server) queueDLQRequeue(c *call) error {
	qs, err := s.queueService(false)
	if err != nil {
		return err
	}
	var req api.QueueDLQRequeueRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	ref, err := c.queueRef(first(req.Namespace, c.query("namespace")), first(req.Queue, c.query("queue")))
	if err != nil {
		return err
	}
	if len(req.MessageIDs) == 0 && !req.All {
		return badRequest(api.CodeMissingFields, "message_ids or all is required")
	}
	res, err := qs.Requeue(c.ctx, queues.RequeueRequest{Ref: ref, IDs: req.MessageIDs, All: req.All, Delay: seconds(req.DelaySeconds)})
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.QueueDLQRequeueResponse{
		Namespace: ref.Namespace, Queue: ref.Base().Name(), Requeued: nonNil(res.Requeued), Skipped: res.Skipped,
	})
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
