package edge_test

import (
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// mp is a multipart enqueue request body and its Content-Type header.
func mp(t *testing.T, parts ...part) (body []byte, headers []string) {
	body, ctype := multipartBody(t, parts...)
	return body, []string{"Content-Type", ctype}
}

func TestWireEnqueue(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		payload := part{name: "payload", body: []byte("x")}
		meta := func(m map[string]any) part { return metaPart(t, m) }
		good := []part{meta(map[string]any{"queue": "q"}), payload}
		c := func(name string, status int, code string, parts ...part) wireCase {
			body, hdr := mp(t, parts...) // one boundary for both
			return wireCase{name: name, path: "/v1/queue/enqueue", body: body, headers: hdr, status: status, code: code}
		}
		checkWire(t, s, []wireCase{
			{name: "not multipart", path: "/v1/queue/enqueue", body: `{"queue":"q"}`, headers: []string{"Content-Type", "application/json"}, status: 400, code: api.CodeInvalidContentType},
			{name: "no boundary", path: "/v1/queue/enqueue", body: "x", headers: []string{"Content-Type", "multipart/form-data"}, status: 400, code: api.CodeInvalidContentType},
			{name: "truncated", path: "/v1/queue/enqueue", body: "--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}",
				headers: []string{"Content-Type", "multipart/form-data; boundary=XX"}, status: 400, code: api.CodeMultipartError},
			c("no meta", 400, api.CodeMultipartError, payload),
			c("duplicate meta", 400, api.CodeMultipartError, good[0], good[0], payload),
			c("bad namespace", 400, api.CodeInvalidNamespace, meta(map[string]any{"queue": "q", "namespace": "a b"}), payload),
			c("reserved namespace", 400, api.CodeInvalidNamespace, meta(map[string]any{"queue": "q", "namespace": ".txns"}), payload),
			c("missing queue", 400, api.CodeMissingQueue, meta(map[string]any{}), payload),
			c("bad queue", 400, api.CodeInvalidQueue, meta(map[string]any{"queue": "a b"}), payload),
			c("into a dlq", 400, api.CodeInvalidQueue, meta(map[string]any{"queue": "q:dlq"}), payload),
			// v0.9 answers malformed meta JSON with 500 internal_error; bad
			// input is a 400 here (invariant 7).
			c("bad meta JSON", 400, api.CodeInvalidBody, part{name: "meta", body: []byte(`{"queue":`)}, payload),
		})
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{c("disabled", 501, api.CodeQueueDisabled, good...)})
		s.Drain()
		drain := c("draining", 503, api.CodeShutdownDraining, good...)
		drain.retryAfter = "1"
		checkWire(t, s, []wireCase{drain})
	})
}

func TestWireDequeue(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		var cases []wireCase
		for _, ep := range []string{"/v1/queue/dequeue", "/v1/queue/dequeueWithState"} {
			cases = append(cases, []wireCase{
				{name: ep + " malformed", path: ep, body: `{"queue":`, status: 400, code: api.CodeInvalidBody},
				{name: ep + " unknown field", path: ep, body: `{"queue":"q","owner":"w","nope":1}`, status: 400, code: api.CodeInvalidBody},
				{name: ep + " bad namespace", path: ep, body: `{"queue":"q","owner":"w","namespace":"a b"}`, status: 400, code: api.CodeInvalidNamespace},
				{name: ep + " missing queue", path: ep, body: `{"owner":"w"}`, status: 400, code: api.CodeMissingQueue},
				{name: ep + " missing owner", path: ep, body: `{"queue":"q"}`, status: 400, code: api.CodeMissingOwner},
				{name: ep + " bad txn", path: ep, body: `{"queue":"q","owner":"w","txn_id":"zz"}`, status: 400, code: api.CodeInvalidTxn},
				{name: ep + " empty, no wait", path: ep, body: `{"queue":"q","owner":"w","wait_seconds":-1}`, status: 409, code: api.CodeWaiting, retryAfter: "-"},
				{name: ep + " empty after wait", path: ep, body: `{"queue":"q","owner":"w","wait_seconds":1}`, status: 409, code: api.CodeWaiting, retryAfter: "1"},
			}...)
		}
		checkWire(t, s, cases)
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/queue/dequeue", body: `{"queue":"q","owner":"w"}`, status: 501, code: api.CodeQueueDisabled}})
		s.Drain()
		checkWire(t, s, []wireCase{{name: "draining", path: "/v1/queue/dequeue", body: `{"queue":"q","owner":"w"}`, status: 503, code: api.CodeShutdownDraining, retryAfter: "1"}})
	})
}

// settleCases are the errors ack, nack and extend share for delivery d.
func settleCases(ep string, d api.Message) []wireCase {
	p := "/v1/queue/" + ep
	b := func(kv ...any) map[string]any { return with(ackBody(d), kv...) }
	return []wireCase{
		{name: ep + " empty body", path: p, status: 400, code: api.CodeInvalidBody},
		{name: ep + " unknown field", path: p, body: b("nope", 1), status: 400, code: api.CodeInvalidBody},
		{name: ep + " missing queue", path: p, body: b("queue", ""), status: 400, code: api.CodeMissingFields},
		{name: ep + " missing message", path: p, body: b("message_id", ""), status: 400, code: api.CodeMissingFields},
		{name: ep + " missing lease", path: p, body: b("lease_id", ""), status: 400, code: api.CodeMissingFields},
		{name: ep + " bad namespace", path: p, body: b("namespace", ".txns"), status: 400, code: api.CodeInvalidNamespace},
		{name: ep + " bad queue", path: p, body: b("queue", "a b"), status: 400, code: api.CodeInvalidQueueKey},
		{name: ep + " negative token", path: p, body: b("fencing_token", -1), status: 400, code: api.CodeInvalidFencingToken},
		{name: ep + " unknown message", path: p, body: b("message_id", "0190d1f2-0000-7000-8000-000000000000"), status: 404, code: api.CodeNotFound},
		{name: ep + " other lease", path: p, body: b("lease_id", otherTxn), status: 409, code: api.CodeQueueLeaseMismatch},
		{name: ep + " stale token", path: p, body: b("fencing_token", d.FencingToken+1), status: 409, code: api.CodeQueueLeaseMismatch},
		{name: ep + " other txn", path: p, body: b("txn_id", otherTxn), status: 409, code: api.CodeQueueLeaseMismatch},
		{name: ep + " stale meta etag", path: p, body: b("meta_etag", "stale"), status: 409, code: api.CodeCASMismatch},
	}
}

func TestWireAck(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "q", `{}`)
		d := dequeueOne(t, s, "q").Message
		checkWire(t, s, settleCases("ack", d))
		mustOK(t, ack(s, d, "meta_etag", ""), "ack without meta_etag") // optional on ack
		checkWire(t, s, []wireCase{{name: "acked twice", path: "/v1/queue/ack", body: ackBody(d), status: 404, code: api.CodeNotFound}})
		// A redelivered message: the old delivery is stale.
		enqueue(t, s, "r", `{}`)
		first := dequeueOne(t, s, "r").Message
		mustOK(t, nack(s, first), "nack")
		second := dequeueOne(t, s, "r").Message
		checkWire(t, s, []wireCase{{name: "old delivery", path: "/v1/queue/ack", body: ackBody(first), status: 409, code: api.CodeQueueLeaseMismatch}})
		mustOK(t, ack(s, second), "ack of the current delivery")
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/queue/ack", body: ackBody(d), status: 501, code: api.CodeQueueDisabled}})
	})
}

func TestWireNack(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "q", `{}`)
		d := dequeueOne(t, s, "q").Message
		cases := append(settleCases("nack", d), []wireCase{
			{name: "missing meta etag", path: "/v1/queue/nack", body: with(ackBody(d), "meta_etag", ""), status: 400, code: api.CodeMissingFields},
			{name: "bad intent", path: "/v1/queue/nack", body: with(ackBody(d), "intent", "later"), status: 400, code: api.CodeInvalidNackIntent},
		}...)
		checkWire(t, s, cases)
		mustOK(t, nack(s, d, "intent", "  DeFeR "), "intent is trimmed and case-folded")
		checkWire(t, s, []wireCase{{name: "nacked twice", path: "/v1/queue/nack", body: ackBody(d), status: 409, code: api.CodeQueueLeaseMismatch}})
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/queue/nack", body: ackBody(d), status: 501, code: api.CodeQueueDisabled}})
	})
}

func TestWireExtend(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "q", `{}`)
		d := dequeueOne(t, s, "q").Message
		cases := append(settleCases("extend", d),
			wireCase{name: "missing meta etag", path: "/v1/queue/extend", body: with(ackBody(d), "meta_etag", ""), status: 400, code: api.CodeMissingFields})
		checkWire(t, s, cases)
		mustOK(t, s.Do("POST", "/v1/queue/extend", with(ackBody(d), "extend_by_seconds", 30)), "extend")
		mustOK(t, ack(s, d, "meta_etag", ""), "ack")
		checkWire(t, s, []wireCase{{name: "after ack", path: "/v1/queue/extend", body: with(ackBody(d), "extend_by_seconds", 30), status: 404, code: api.CodeNotFound}})
		off := disabledEdge(t, s)
		checkWire(t, off, []wireCase{{name: "disabled", path: "/v1/queue/extend", body: ackBody(d), status: 501, code: api.CodeQueueDisabled}})
	})
}

func TestWireQueueStatsWatchSubscribe(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		checkWire(t, s, []wireCase{
			{name: "stats malformed", path: "/v1/queue/stats", body: `{`, status: 400, code: api.CodeInvalidBody},
			{name: "stats missing queue", path: "/v1/queue/stats", status: 400, code: api.CodeMissingQueue},
			{name: "stats bad namespace", path: "/v1/queue/stats?queue=q&namespace=a%20b", status: 400, code: api.CodeInvalidNamespace},
			{name: "watch malformed", path: "/v1/queue/watch", body: `{`, status: 400, code: api.CodeInvalidBody},
			{name: "watch missing queue", path: "/v1/queue/watch", status: 400, code: api.CodeMissingQueue},
			{name: "subscribe missing queue", path: "/v1/queue/subscribe", body: `{"owner":"w"}`, status: 400, code: api.CodeMissingQueue},
			{name: "subscribe missing owner", path: "/v1/queue/subscribe", body: `{"queue":"q"}`, status: 400, code: api.CodeMissingOwner},
			{name: "subscribeWithState missing owner", path: "/v1/queue/subscribeWithState", body: `{"queue":"q"}`, status: 400, code: api.CodeMissingOwner},
		})
		off := disabledEdge(t, s)
		var disabled []wireCase
		for _, ep := range []string{"stats", "watch", "subscribe", "subscribeWithState", "dequeueWithState"} {
			disabled = append(disabled, wireCase{name: ep + " disabled", path: "/v1/queue/" + ep, body: `{"queue":"q","owner":"w"}`, status: 501, code: api.CodeQueueDisabled})
		}
		checkWire(t, off, disabled)
		s.Drain()
		checkWire(t, s, []wireCase{
			{name: "subscribe draining", path: "/v1/queue/subscribe", body: `{"queue":"q","owner":"w"}`, status: 503, code: api.CodeShutdownDraining, retryAfter: "1"},
			{name: "watch draining", path: "/v1/queue/watch", body: `{"queue":"q"}`, status: 503, code: api.CodeShutdownDraining, retryAfter: "1"},
		})
	})
}
