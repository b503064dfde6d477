package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// /v1/queue/unsubscribe (our extension) ends a stream gracefully: the
// queue makes it no more deliveries, those already made reach the client
// (none is left leased to a reader that will never see it) and the body
// ends with its closing delimiter; the deliveries stay the client's to
// ack or nack.
func TestQueueUnsubscribeDrainsStream(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		for i := range 3 {
			enqueue(t, s, "un", `{"i":`+string(rune('0'+i))+`}`)
		}
		sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "un", "owner": "u", "page_size": 2})
		if sub.id == "" {
			t.Fatal("no X-Lockd-Subscription-ID on the subscribe response")
		}
		eventually(t, "the prefetch delivered", func() bool { return stats(t, s, "un").InFlight == 2 })
		// Nothing was read yet: both deliveries sit in the stream.
		r := s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "un", "subscription_id": sub.id})
		mustOK(t, r, "unsubscribe")
		var ur api.QueueUnsubscribeResponse
		r.JSON(t, &ur)
		if !ur.Stopped {
			t.Fatalf("unsubscribe answered %s", r.Body)
		}
		a, b := sub.next(t), sub.next(t)
		select {
		case <-sub.done:
		case <-time.After(20 * time.Second):
			t.Fatal("the stream did not end after unsubscribe")
		}
		select {
		case <-sub.ended:
		default:
			t.Fatal("the stream broke off instead of ending with its closing delimiter")
		}
		if d, ok := <-sub.out; ok {
			t.Fatalf("delivery %s after unsubscribe", d.MessageID)
		}
		st := stats(t, s, "un")
		if st.Subscribers != 0 || st.InFlight != 2 || st.Ready != 1 {
			t.Fatalf("after unsubscribe: %+v", st)
		}
		mustOK(t, ack(s, a.Message), "ack a delivery of the ended stream")
		mustOK(t, nack(s, b.Message, "intent", "defer"), "nack a delivery of the ended stream")
		if st := stats(t, s, "un"); st.Ready != 2 || st.InFlight != 0 {
			t.Fatalf("after settling: %+v", st)
		}

		// The stream is gone: its id no longer names one.
		r = s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "un", "subscription_id": sub.id})
		wantError(t, r, 404, api.CodeNotFound)
	})
}

func TestQueueUnsubscribeBadInput(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "ub", "owner": "u"})
		wantError(t, s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "ub"}), 400, api.CodeMissingFields)
		wantError(t, s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"subscription_id": sub.id}), 400, api.CodeMissingQueue)
		wantError(t, s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "ub", "subscription_id": "nope"}), 404, api.CodeNotFound)
		// An id only ends the stream of its own queue.
		wantError(t, s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "other", "subscription_id": sub.id}), 404, api.CodeNotFound)
		wantError(t, s.Do("POST", "/v1/queue/unsubscribe", map[string]any{"queue": "ub", "subscription_id": sub.id, "x": 1}), 400, api.CodeInvalidBody)
		if st := stats(t, s, "ub"); st.Subscribers != 1 {
			t.Fatalf("a refused unsubscribe ended the stream: %+v", st)
		}
	})
}

// A consumer that closes its connection is noticed at once, not at the
// next write: its subscription takes no message it would never read.
func TestSubscriptionEndsWhenClientLeaves(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if own, ok := s.Client.Transport.(*http.Transport); ok {
			tr = own.Clone()
		}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		resp, err := hc.Post(s.URL()+"/v1/queue/subscribe", "application/json",
			strings.NewReader(`{"queue":"gone","owner":"g"}`))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("subscribe: %d", resp.StatusCode)
		}
		eventually(t, "a subscriber", func() bool { return stats(t, s, "gone").Subscribers == 1 })
		resp.Body.Close() // closes the connection: the body was not read to its end
		eventually(t, "the subscription to end", func() bool { return stats(t, s, "gone").Subscribers == 0 })
		enqueue(t, s, "gone", `{}`)
		r, ds := dequeue(t, s, "/v1/queue/dequeue", map[string]any{"queue": "gone", "owner": "h", "wait_seconds": -1})
		if r.Status != 200 || len(ds) != 1 {
			t.Fatalf("the message went to the gone subscriber: %d %s", r.Status, r.Body)
		}
	})
}
