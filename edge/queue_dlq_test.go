package edge_test

import (
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// After max_attempts failures a message moves to the DLQ with its payload
// and correlation id; the DLQ is listed, dequeued, requeued and drained
// over the API.
func TestQueueDeadLetterAfterMaxAttempts(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		body, ctype := multipartBody(t, metaPart(t, map[string]any{"queue": "jobs", "max_attempts": 2, "attributes": map[string]any{"a": 1.0}}),
			part{name: "payload", ctype: "text/plain", body: []byte("poison")})
		r := enqueueRaw(s, body, ctype, api.HeaderCorrelationID, "poison-cid")
		mustOK(t, r, "enqueue")
		var enq api.EnqueueResponse
		r.JSON(t, &enq)

		d := dequeueOne(t, s, "jobs")
		r = nack(s, d.Message, "last_error", map[string]any{"why": "first"})
		mustOK(t, r, "first nack")
		d = dequeueOne(t, s, "jobs")
		if d.FailureAttempts != 1 || d.Attempts != 2 {
			t.Fatalf("second delivery %+v", d.Message)
		}
		r = nack(s, d.Message, "intent", "failure", "last_error", "second")
		mustOK(t, r, "second nack")
		var nr api.NackResponse
		r.JSON(t, &nr)
		if !nr.DeadLettered || nr.Requeued || nr.CorrelationID != "poison-cid" {
			t.Fatalf("dead-lettering nack %+v", nr)
		}
		if st := stats(t, s, "jobs"); st.Ready+st.InFlight+st.Delayed != 0 || st.DeadLetters != 1 {
			t.Fatalf("queue stats %+v", st)
		}
		if st := stats(t, s, "jobs:dlq"); st.Ready != 1 || st.Queue != "jobs:dlq" || st.HeadMessageID != enq.MessageID {
			t.Fatalf("dlq stats %+v", st)
		}

		// List.
		r = s.Do("POST", "/v1/queue/dlq/list", map[string]any{"queue": "jobs"})
		mustOK(t, r, "dlq list")
		var list api.QueueDLQListResponse
		r.JSON(t, &list)
		if len(list.Messages) != 1 {
			t.Fatalf("dlq list %s", r.Body)
		}
		m := list.Messages[0]
		if m.MessageID != enq.MessageID || m.DeadLetterReason != "max_attempts_exceeded" || string(m.LastError) != `"second"` ||
			m.CorrelationID != "poison-cid" || m.PayloadBytes != 6 || m.FailureAttempts != 2 || m.Queue != "jobs:dlq" || m.Attributes["a"] != 1.0 {
			t.Fatalf("dead letter %+v", m)
		}

		// Dequeue from the DLQ; nack (defer) puts it back in the DLQ.
		dd := dequeueOne(t, s, "jobs:dlq")
		if string(dd.Payload) != "poison" || dd.PayloadType != "text/plain" || dd.Queue != "jobs:dlq" || dd.CorrelationID != "poison-cid" {
			t.Fatalf("dlq delivery %+v %q", dd.Message, dd.Payload)
		}
		mustOK(t, nack(s, dd.Message, "intent", "defer"), "dlq nack")

		// Requeue into the queue with a fresh failure budget.
		r = s.Do("POST", "/v1/queue/dlq/requeue", map[string]any{"queue": "jobs", "message_ids": []string{enq.MessageID, "nope"}})
		mustOK(t, r, "requeue")
		var rq api.QueueDLQRequeueResponse
		r.JSON(t, &rq)
		if len(rq.Requeued) != 1 || len(rq.Skipped) != 1 {
			t.Fatalf("requeue %+v", rq)
		}
		d = dequeueOne(t, s, "jobs")
		if string(d.Payload) != "poison" || d.FailureAttempts != 0 || d.Queue != "jobs" {
			t.Fatalf("requeued delivery %+v", d.Message)
		}

		// Fail it again and drain the DLQ: dequeue + ack.
		mustOK(t, nack(s, d.Message), "nack")
		d = dequeueOne(t, s, "jobs")
		mustOK(t, nack(s, d.Message), "nack")
		dd = dequeueOne(t, s, "jobs:dlq")
		mustOK(t, ack(s, dd.Message), "drain ack")
		if st := stats(t, s, "jobs"); st.DeadLetters != 0 || st.Ready+st.InFlight != 0 {
			t.Fatalf("after drain %+v", st)
		}
	})
}

// A deferred nack never counts toward max_attempts.
func TestQueueDeferDoesNotCount(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "defer", `{}`, map[string]any{"max_attempts": 1})
		for i := 0; i < 4; i++ {
			d := dequeueOne(t, s, "defer")
			if d.FailureAttempts != 0 || d.Attempts != int64(i+1) {
				t.Fatalf("delivery %d: %+v", i, d.Message)
			}
			mustOK(t, nack(s, d.Message, "intent", "defer"), "defer")
		}
		d := dequeueOne(t, s, "defer")
		r := nack(s, d.Message, "intent", "failure")
		var nr api.NackResponse
		r.JSON(t, &nr)
		if !nr.DeadLettered {
			t.Fatalf("failure after defers: %+v", nr)
		}
	})
}

// A visibility timeout counts as a failure: a consumer that dies on the
// message every time eventually dead-letters it.
func TestQueueTimeoutsDeadLetter(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enq := enqueue(t, s, "crashy", `{}`, map[string]any{"max_attempts": 1})
		dequeueOne(t, s, "crashy", map[string]any{"visibility_timeout_seconds": 1})
		// Waiting on the DLQ is woken when the timeout moves the message.
		_, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "crashy:dlq", "owner": "ops", "wait_seconds": 20})
		if len(ds) != 1 || ds[0].MessageID != enq.MessageID || ds[0].FailureAttempts != 1 {
			t.Fatalf("dlq after timeout: %+v", ds)
		}
	})
}
