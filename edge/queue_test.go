package edge_test

import (
	"encoding/json"
	"strings"

	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestQueueEnqueueDequeueAck(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		body, ctype := multipartBody(t,
			metaPart(t, map[string]any{"queue": "orders", "attributes": map[string]any{"k": "v"}, "payload_content_type": "application/json"}),
			part{name: "payload", ctype: "text/plain", body: []byte(`{"op":"ship"}`)})
		r := enqueueRaw(s, body, ctype, api.HeaderCorrelationID, "corr-1")
		mustOK(t, r, "enqueue")
		var enq api.EnqueueResponse
		r.JSON(t, &enq)
		if enq.Queue != "orders" || enq.Namespace != "default" || enq.MessageID == "" || enq.PayloadBytes != 13 ||
			enq.MaxAttempts != 5 || enq.VisibilityTimeoutSeconds != 30 || enq.CorrelationID != "corr-1" || enq.Attempts != 0 {
			t.Fatalf("enqueue response %+v", enq)
		}
		resp, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "orders", "owner": "w1"})
		if resp.Status != 200 || len(ds) != 1 {
			t.Fatalf("dequeue: %d %s", resp.Status, resp.Body)
		}
		d := ds[0]
		if resp.Header.Get(api.HeaderCorrelationID) != "corr-1" || string(d.Payload) != `{"op":"ship"}` ||
			d.PayloadType != "application/json" || d.MessageID != enq.MessageID || d.Attempts != 1 ||
			d.FencingToken != 1 || d.LeaseID == "" || d.TxnID == "" || d.MetaETag == "" ||
			d.Attributes["k"] != "v" || d.CorrelationID != "corr-1" || d.PayloadBytes != 13 || d.MetaName != "" {
			t.Fatalf("delivery %+v", d)
		}
		r = ack(s, d.Message)
		mustOK(t, r, "ack")
		var ar api.AckResponse
		r.JSON(t, &ar)
		if !ar.Acked || ar.CorrelationID != "corr-1" {
			t.Fatalf("ack response %+v", ar)
		}
		wantError(t, ack(s, d.Message), 404, api.CodeNotFound) // double ack
		r = s.Do("POST", "/v1/queue/dequeue", map[string]any{"queue": "orders", "owner": "w1", "wait_seconds": -1})
		wantError(t, r, 409, api.CodeWaiting)
		if r.Header.Get(api.HeaderRetryAfter) != "" {
			t.Fatalf("wait -1 sent Retry-After %q", r.Header.Get(api.HeaderRetryAfter))
		}
		r = s.Do("POST", "/v1/queue/dequeue?queue=orders&owner=w1", map[string]any{"wait_seconds": 1})
		wantError(t, r, 409, api.CodeWaiting)
		if r.Header.Get(api.HeaderRetryAfter) != "1" {
			t.Fatalf("Retry-After %q", r.Header.Get(api.HeaderRetryAfter))
		}
	})
}

func TestQueuePayloadShapes(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		cases := []struct {
			name  string
			parts []part
			want  string
			ctype string
		}{
			{"payload before meta", []part{{name: "payload", ctype: "text/csv", body: []byte("a,b")}, metaPart(t, map[string]any{"queue": "shapes"})}, "a,b", "text/csv"},
			{"zero-length payload", []part{metaPart(t, map[string]any{"queue": "shapes"}), {name: "payload"}}, "", "application/octet-stream"},
			{"no payload part", []part{metaPart(t, map[string]any{"queue": "shapes"})}, "", "application/octet-stream"},
			{"unnamed part is the payload", []part{metaPart(t, map[string]any{"queue": "shapes"}), {ctype: "image/png", body: []byte{0, 1, 2}}}, "\x00\x01\x02", "image/png"},
		}
		for _, tc := range cases {
			body, ctype := multipartBody(t, tc.parts...)
			mustOK(t, enqueueRaw(s, body, ctype), tc.name)
			d := dequeueOne(t, s, "shapes")
			if string(d.Payload) != tc.want || d.PayloadType != tc.ctype || d.PayloadBytes != int64(len(tc.want)) {
				t.Fatalf("%s: payload %q type %q bytes %d", tc.name, d.Payload, d.PayloadType, d.PayloadBytes)
			}
			mustOK(t, ack(s, d.Message), tc.name+" ack")
		}
		// multipart/related works like form-data.
		body, ctype := multipartBody(t, metaPart(t, map[string]any{"queue": "shapes"}), part{name: "payload", body: []byte("rel")})
		mustOK(t, enqueueRaw(s, body, strings.Replace(ctype, "multipart/form-data", "multipart/related", 1)), "multipart/related")
		if d := dequeueOne(t, s, "shapes"); string(d.Payload) != "rel" {
			t.Fatalf("related payload %q", d.Payload)
		}
	})
}

func TestQueueBadInput(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		good := enqueue(t, s, "bad", `{"n":1}`)
		d := dequeueOne(t, s, "bad", map[string]any{"visibility_timeout_seconds": 60})
		meta := metaPart(t, map[string]any{"queue": "bad"})
		payload := part{name: "payload", body: []byte("x")}
		mp := func(parts ...part) edgetest.Response {
			body, ctype := multipartBody(t, parts...)
			return enqueueRaw(s, body, ctype)
		}
		cases := []struct {
			name   string
			resp   edgetest.Response
			status int
			code   string
		}{
			{"not multipart", s.Do("POST", "/v1/queue/enqueue", `{"queue":"bad"}`, "Content-Type", "application/json"), 400, api.CodeInvalidContentType},
			{"no boundary", enqueueRaw(s, []byte("x"), "multipart/form-data"), 400, api.CodeInvalidContentType},
			{"missing meta", mp(payload), 400, api.CodeMultipartError},
			{"wrong part name", mp(meta, part{name: "body", body: []byte("x")}), 400, api.CodeMultipartError},
			{"duplicate payload", mp(meta, payload, payload), 400, api.CodeMultipartError},
			{"duplicate meta", mp(meta, meta, payload), 400, api.CodeMultipartError},
			{"bad JSON meta", mp(part{name: "meta", body: []byte(`{"queue":`)}, payload), 400, api.CodeInvalidBody},
			{"wrong type in meta", mp(part{name: "meta", body: []byte(`{"queue":"bad","delay_seconds":"x"}`)}, payload), 400, api.CodeInvalidBody},
			{"truncated body", enqueueRaw(s, []byte("--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\"bad\"}\r\n--XX\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\nabc"), "multipart/form-data; boundary=XX"), 400, api.CodeMultipartError},
			{"missing queue", mp(metaPart(t, map[string]any{}), payload), 400, api.CodeMissingQueue},
			{"invalid queue", mp(metaPart(t, map[string]any{"queue": "Bad Name!"}), payload), 400, api.CodeInvalidQueue},
			{"enqueue into a dlq", mp(metaPart(t, map[string]any{"queue": "bad:dlq"}), payload), 400, api.CodeInvalidQueue},
			{"reserved namespace", mp(metaPart(t, map[string]any{"queue": "bad", "namespace": ".txns"}), payload), 400, api.CodeInvalidNamespace},
			{"dequeue without owner", s.Do("POST", "/v1/queue/dequeue", `{"queue":"bad"}`), 400, api.CodeMissingOwner},
			{"dequeue unknown field", s.Do("POST", "/v1/queue/dequeue", `{"queue":"bad","owner":"w","nope":1}`), 400, api.CodeInvalidBody},
			{"dequeue bad txn", s.Do("POST", "/v1/queue/dequeue", `{"queue":"bad","owner":"w","txn_id":"zz"}`), 400, api.CodeInvalidTxn},
			{"ack empty body", s.Do("POST", "/v1/queue/ack", nil), 400, api.CodeInvalidBody},
			{"ack missing fields", s.Do("POST", "/v1/queue/ack", `{"queue":"bad"}`), 400, api.CodeMissingFields},
			{"ack unknown message", ack(s, d.Message, "message_id", "0190d1f2-0000-7000-8000-000000000000"), 404, api.CodeNotFound},
			{"ack wrong lease", ack(s, d.Message, "lease_id", "other"), 409, api.CodeQueueLeaseMismatch},
			{"ack stale fencing", ack(s, d.Message, "fencing_token", d.FencingToken+1), 409, api.CodeQueueLeaseMismatch},
			{"ack negative fencing", ack(s, d.Message, "fencing_token", -1), 400, api.CodeInvalidFencingToken},
			{"ack txn mismatch", ack(s, d.Message, "txn_id", "d0000000000000000000"), 409, api.CodeQueueLeaseMismatch},
			{"ack stale meta etag", ack(s, d.Message, "meta_etag", "stale"), 409, api.CodeCASMismatch},
			{"nack without meta etag", nack(s, d.Message, "meta_etag", ""), 400, api.CodeMissingFields},
			{"nack bad intent", nack(s, d.Message, "intent", "later"), 400, api.CodeInvalidNackIntent},
			{"extend without meta etag", s.Do("POST", "/v1/queue/extend", with(ackBody(d.Message), "meta_etag", "")), 400, api.CodeMissingFields},
			{"stats without queue", s.Do("POST", "/v1/queue/stats", nil), 400, api.CodeMissingQueue},
			{"requeue without ids", s.Do("POST", "/v1/queue/dlq/requeue", `{"queue":"bad"}`), 400, api.CodeMissingFields},
			{"dlq list wrong method", s.Do("GET", "/v1/queue/dlq/list?queue=bad", nil), 405, api.CodeMethodNotAllowed},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { wantError(t, tc.resp, tc.status, tc.code) })
		}
		// Nothing was lost or added: the one message is still in flight and
		// its delivery can still be acked.
		st := stats(t, s, "bad")
		if st.InFlight != 1 || st.Ready != 0 || st.Delayed != 0 || st.DeadLetters != 0 {
			t.Fatalf("stats after bad input %+v", st)
		}
		mustOK(t, ack(s, d.Message), "ack after bad input")
		if d.MessageID != good.MessageID {
			t.Fatal("wrong message")
		}
	})
}

func TestQueueLongPollWakesOnEnqueue(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		type result struct {
			ds []delivered
			at time.Time
		}
		got := make(chan result, 1)
		go func() {
			_, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "poll", "owner": "w", "wait_seconds": 30})
			got <- result{ds, time.Now()}
		}()
		eventually(t, "a waiting consumer", func() bool { return stats(t, s, "poll").WaitingConsumers == 1 })
		start := time.Now()
		enq := enqueue(t, s, "poll", `{"wake":true}`)
		select {
		case r := <-got:
			if len(r.ds) != 1 || r.ds[0].MessageID != enq.MessageID {
				t.Fatalf("waiter got %+v", r.ds)
			}
			t.Logf("enqueue → delivery to a waiting consumer: %v", r.at.Sub(start))
		case <-time.After(20 * time.Second):
			t.Fatal("waiting consumer not woken by the enqueue")
		}
	})
}

func TestQueueVisibilityTimeoutRedelivers(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "vis", `{}`)
		first := dequeueOne(t, s, "vis", map[string]any{"visibility_timeout_seconds": 1})
		// A long poll is woken when the visibility timeout runs out.
		_, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "vis", "owner": "w2", "wait_seconds": 20})
		if len(ds) != 1 {
			t.Fatal("message not redelivered after its visibility timeout")
		}
		second := ds[0]
		if second.MessageID != first.MessageID || second.Attempts != 2 || second.FailureAttempts != 1 || second.FencingToken <= first.FencingToken {
			t.Fatalf("redelivery %+v after %+v", second.Message, first.Message)
		}
		wantError(t, ack(s, first.Message), 409, api.CodeQueueLeaseMismatch) // the old delivery is stale
		mustOK(t, ack(s, second.Message), "ack redelivery")
	})
}

func TestQueueExtendAndNackDelay(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "ext", `{}`)
		d := dequeueOne(t, s, "ext", map[string]any{"visibility_timeout_seconds": 5})
		r := s.Do("POST", "/v1/queue/extend", with(ackBody(d.Message), "extend_by_seconds", 60))
		mustOK(t, r, "extend")
		var er api.ExtendResponse
		r.JSON(t, &er)
		if er.VisibilityTimeoutSeconds != 60 || er.MetaETag == "" || er.MetaETag == d.MetaETag || er.LeaseExpiresAtUnix < time.Now().Unix()+55 {
			t.Fatalf("extend response %+v", er)
		}
		wantError(t, nack(s, d.Message), 409, api.CodeCASMismatch) // the old meta_etag
		r = nack(s, d.Message, "meta_etag", er.MetaETag, "intent", "defer", "delay_seconds", 60)
		mustOK(t, r, "nack")
		var nr api.NackResponse
		r.JSON(t, &nr)
		if !nr.Requeued || nr.MetaETag == "" || nr.DeadLettered {
			t.Fatalf("nack response %+v", nr)
		}
		st := stats(t, s, "ext")
		if st.Delayed != 1 || st.Ready != 0 || st.Available {
			t.Fatalf("stats after delayed nack %+v", st)
		}
	})
}

func TestQueuePageSize(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		var ids []string
		for i := 0; i < 3; i++ {
			ids = append(ids, enqueue(t, s, "page", `{}`).MessageID)
		}
		r, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "page", "owner": "w", "page_size": 10})
		if r.Status != 200 || len(ds) != 3 {
			t.Fatalf("page: %d %d", r.Status, len(ds))
		}
		for i, d := range ds {
			if d.MessageID != ids[i] || d.MetaName != "meta-"+string(rune('0'+i))+".json" {
				t.Fatalf("delivery %d: %s %q", i, d.MessageID, d.MetaName)
			}
			mustOK(t, ack(s, d.Message), "ack")
		}
	})
}

func TestQueueStatsAndWatch(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		resp := streamRequest(t, s, "/v1/queue/watch", map[string]any{"queue": "watched"})
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("watch content type %q", ct)
		}
		events := make(chan api.QueueWatchEvent, 16)
		go readEvents(resp.Body, events)
		first := nextEvent(t, events)
		if first.Available || first.Queue != "watched" {
			t.Fatalf("first event %+v", first)
		}
		enq := enqueue(t, s, "watched", `{}`)
		ev := nextEvent(t, events)
		if !ev.Available || ev.HeadMessageID != enq.MessageID || ev.Ready != 1 {
			t.Fatalf("event after enqueue %+v", ev)
		}
		st := stats(t, s, "watched")
		if !st.Available || st.HeadMessageID != enq.MessageID || st.PendingCandidates != 1 || !st.HasActiveWatcher {
			t.Fatalf("stats %+v", st)
		}
		d := dequeueOne(t, s, "watched")
		if ev := nextEvent(t, events); ev.Available || ev.InFlight != 1 {
			t.Fatalf("event after dequeue %+v", ev)
		}
		mustOK(t, ack(s, d.Message), "ack")
	})
}

func readEvents(resp interface{ Read([]byte) (int, error) }, out chan<- api.QueueWatchEvent) {
	defer close(out)
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := resp.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			i := strings.Index(string(buf), "\n\n")
			if i < 0 {
				break
			}
			block := string(buf[:i])
			buf = buf[i+2:]
			if !strings.HasPrefix(block, "event: queue_watch\n") {
				continue
			}
			var ev api.QueueWatchEvent
			if json.Unmarshal([]byte(strings.TrimPrefix(strings.SplitN(block, "\n", 2)[1], "data: ")), &ev) == nil {
				out <- ev
			}
		}
		if err != nil {
			return
		}
	}
}

func nextEvent(t *testing.T, events <-chan api.QueueWatchEvent) api.QueueWatchEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("watch stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event")
	}
	return api.QueueWatchEvent{}
}

// Draining refuses new queue work but lets consumers finish theirs.
func TestQueueDrain(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enqueue(t, s, "drain", `{}`)
		d := dequeueOne(t, s, "drain")
		s.Drain()
		body, ctype := multipartBody(t, metaPart(t, map[string]any{"queue": "drain"}))
		wantError(t, enqueueRaw(s, body, ctype), 503, api.CodeShutdownDraining)
		wantError(t, s.Do("POST", "/v1/queue/dequeue", map[string]any{"queue": "drain", "owner": "w"}), 503, api.CodeShutdownDraining)
		mustOK(t, ack(s, d.Message), "ack while draining")
	})
}
