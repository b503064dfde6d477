package edge

import (
	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/sdk/api"
)

// routeClasses groups routes as lockd v0.9's LSF counts them (see
// admission.Kind). Routes that drain — release, keepalive, ack, nack,
// extend, transaction decisions — are counted but never paced; routes not
// listed (health, TC cluster routes, txn replay, queue stats) are neither.
// Queue stats stay out on purpose: they are read from the queue actor's
// memory, and an operator (or a draining consumer) needs the backlog most
// while the QRF is engaged.
var routeClasses = map[string]admission.Class{
	"queue.enqueue":              {Kind: admission.KindQueueProducer},
	"queue.dlq.requeue":          {Kind: admission.KindQueueProducer},
	"queue.dequeue":              {Kind: admission.KindQueueConsumer},
	"queue.dequeue_with_state":   {Kind: admission.KindQueueConsumer},
	"queue.subscribe":            {Kind: admission.KindQueueConsumer},
	"queue.subscribe_with_state": {Kind: admission.KindQueueConsumer},
	"queue.watch":                {Kind: admission.KindQueueConsumer},
	"queue.ack":                  {Kind: admission.KindQueueAck, Drain: true},
	"queue.nack":                 {Kind: admission.KindQueueAck, Drain: true},
	"queue.extend":               {Kind: admission.KindQueueAck, Drain: true},
	"queue.unsubscribe":          {Kind: admission.KindQueueAck, Drain: true},
	"acquire":                    {Kind: admission.KindLock},
	"describe":                   {Kind: admission.KindLock},
	"get":                        {Kind: admission.KindLock},
	"update":                     {Kind: admission.KindLock},
	"remove":                     {Kind: admission.KindLock},
	"metadata":                   {Kind: admission.KindLock},
	"mutate":                     {Kind: admission.KindLock},
	"attachments":                {Kind: admission.KindLock},
	"attachment":                 {Kind: admission.KindLock},
	"keepalive":                  {Kind: admission.KindLock, Drain: true},
	"release":                    {Kind: admission.KindLock, Drain: true},
	"txn.decide":                 {Kind: admission.KindLock, Drain: true},
	"txn.commit":                 {Kind: admission.KindLock, Drain: true},
	"txn.rollback":               {Kind: admission.KindLock, Drain: true},
	"query":                      {Kind: admission.KindQuery},
	"index_flush":                {Kind: admission.KindQuery},
	"namespace":                  {Kind: admission.KindQuery},
	"queue.dlq.list":             {Kind: admission.KindQuery},
}

// admit runs admission control for c: it admits the request (counting it
// in flight until done is called), paces it first, or answers 429
// throttled. It returns false when it has answered.
func (s *Server) admit(c *call, cls admission.Class) bool {
	if !s.qrf.Enabled() {
		return true
	}
	d := s.qrf.Decide(cls, c.dl.remaining())
	if d.State != admission.Disengaged {
		c.Response.Header.Set(api.HeaderQRFState, d.State.String())
	}
	if d.Throttle {
		he := fail(429, api.CodeThrottled, "perimeter defence engaged")
		he.retryAfter = d.RetryAfter
		writeError(c.RequestCtx, he)
		return false
	}
	if err := s.qrf.Pace(c.ctx, cls.Kind, d.Delay); err != nil {
		writeError(c.RequestCtx, toHTTP(c.timedOut(err)))
		return false
	}
	s.qrf.Begin(cls.Kind)
	c.admitted = true
	return true
}

// done ends what admit counted, unless a streamed response took it over.
func (s *Server) done(c *call) {
	if c.admitted {
		s.qrf.End(c.class.Kind)
	}
}

// QRFStatus returns the admission controller's posture, reason and last
// LSF sample.
func (s *Server) QRFStatus() admission.Status { return s.qrf.Status() }

// ForceQRFObserve feeds a sample to the admission controller as if the
// LSF had taken it (lockd v0.9's test hook); with a long
// Admission.SampleInterval it drives the controller alone.
func (s *Server) ForceQRFObserve(snap admission.Snapshot) { s.qrf.Observe(snap) }
