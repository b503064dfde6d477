package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// subscription reads deliveries from a /v1/queue/subscribe stream.
type subscription struct {
	id   string // X-Lockd-Subscription-ID
	out  chan delivered
	done chan struct{}
	// ended is closed when the body ended with its closing delimiter.
	ended chan struct{}
}

func subscribe(t *testing.T, s *edgetest.Server, path string, body any) *subscription {
	resp := streamRequest(t, s, path, body)
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscription{id: resp.Header.Get(api.HeaderSubscriptionID), out: make(chan delivered, 64),
		done: make(chan struct{}), ended: make(chan struct{})}
	t.Cleanup(func() { resp.Body.Close(); <-sub.done })
	mr := multipart.NewReader(resp.Body, params["boundary"])
	go func() {
		defer close(sub.done)
		defer close(sub.out)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				close(sub.ended)
			}
			if err != nil {
				return
			}
			d, ok := readDeliveryNoFatal(mr, p)
			if !ok {
				return
			}
			sub.out <- d
		}
	}()
	return sub
}

// readDeliveryNoFatal is readDelivery for a goroutine, where t.Fatal is
// not allowed: a malformed delivery ends the stream.
func readDeliveryNoFatal(mr *multipart.Reader, p *multipart.Part) (delivered, bool) {
	var d delivered
	var dr api.DequeueResponse
	if p.FormName() != "meta" || json.NewDecoder(p).Decode(&dr) != nil {
		return d, false
	}
	d.Message = dr.Message
	pp, err := mr.NextPart()
	if err != nil || pp.FormName() != "payload" {
		return d, false
	}
	d.PayloadType = pp.Header.Get("Content-Type")
	n, err := strconv.Atoi(pp.Header.Get("Content-Length"))
	if err != nil {
		return d, false
	}
	d.Payload = make([]byte, n)
	_, err = io.ReadFull(pp, d.Payload)
	return d, err == nil
}

func (s *subscription) next(t *testing.T) delivered {
	t.Helper()
	select {
	case d, ok := <-s.out:
		if !ok {
			t.Fatal("subscription stream ended")
		}
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery on the subscription")
	}
	return delivered{}
}

func (s *subscription) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case d := <-s.out:
		t.Fatalf("unexpected delivery %s beyond the prefetch", d.MessageID)
	case <-time.After(within):
	}
}

func TestQueueSubscribePrefetch(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "sub", "owner": "s1", "page_size": 2})
		eventually(t, "a subscriber", func() bool { return stats(t, s, "sub").Subscribers == 1 })
		for i := 0; i < 3; i++ {
			enqueue(t, s, "sub", fmt.Sprintf(`{"i":%d}`, i))
		}
		a, b := sub.next(t), sub.next(t)
		if string(a.Payload) != `{"i":0}` || string(b.Payload) != `{"i":1}` {
			t.Fatalf("first two %q %q", a.Payload, b.Payload)
		}
		if st := stats(t, s, "sub"); st.InFlight != 2 || st.Ready != 1 {
			t.Fatalf("prefetch 2 not honoured: %+v", st)
		}
		sub.none(t, 200*time.Millisecond)
		mustOK(t, ack(s, a.Message), "ack")
		c := sub.next(t)
		if string(c.Payload) != `{"i":2}` {
			t.Fatalf("third %q", c.Payload)
		}
		mustOK(t, ack(s, b.Message), "ack")
		mustOK(t, ack(s, c.Message), "ack")
	})
}

// Workflow state: the message comes with a lease on its state key, the
// consumer writes state under it, and ack/nack/extend keep both aligned.
func TestQueueDequeueWithState(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		enq := enqueue(t, s, "flow", `{"step":"start"}`)
		r, ds := dequeue(t, s, "/v1/queue/dequeueWithState", map[string]any{"queue": "flow", "owner": "w", "page_size": 5})
		if r.Status != 200 || len(ds) != 1 {
			t.Fatalf("dequeueWithState: %d %s", r.Status, r.Body)
		}
		d := ds[0]
		if d.StateLeaseID == "" || d.StateFencingToken == 0 || d.StateTxnID != d.TxnID || d.StateLeaseExpiresAtUnix == 0 {
			t.Fatalf("state lease missing: %+v", d.Message)
		}
		key := "q/flow/state/" + enq.MessageID
		state := lease{AcquireResponse: api.AcquireResponse{Namespace: "default", Key: key, LeaseID: d.StateLeaseID,
			TxnID: d.StateTxnID, FencingToken: d.StateFencingToken}, s: s}
		mustOK(t, state.update(`{"progress":1}`), "stage state")

		r = s.Do("POST", "/v1/queue/extend", with(ackBody(d.Message), "extend_by_seconds", 120,
			"state_lease_id", d.StateLeaseID, "state_fencing_token", d.StateFencingToken))
		mustOK(t, r, "extend with state")
		var er api.ExtendResponse
		r.JSON(t, &er)
		if er.StateLeaseExpiresAtUnix < time.Now().Unix()+100 {
			t.Fatalf("state lease not extended: %+v", er)
		}

		// nack (defer) commits the staged state and releases both leases.
		mustOK(t, nack(s, d.Message, "meta_etag", er.MetaETag, "intent", "defer",
			"state_lease_id", d.StateLeaseID, "state_fencing_token", d.StateFencingToken), "nack with state")
		if r := publicGet(s, key); r.Status != 200 || string(r.Body) != `{"progress":1}` {
			t.Fatalf("state after nack: %d %s", r.Status, r.Body)
		}
		_, ds = dequeue(t, s, "/v1/queue/dequeueWithState", map[string]any{"queue": "flow", "owner": "w2"})
		d2 := ds[0]
		if d2.StateETag == "" || d2.StateFencingToken <= d.StateFencingToken {
			t.Fatalf("second stateful delivery %+v", d2.Message)
		}
		// ack removes the workflow state with the message.
		mustOK(t, ack(s, d2.Message, "state_lease_id", d2.StateLeaseID, "state_fencing_token", d2.StateFencingToken), "ack with state")
		if r := publicGet(s, key); r.Status != 204 {
			t.Fatalf("state after ack: %d %s", r.Status, r.Body)
		}
	})
}

func TestQueueSubscribeWithState(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		sub := subscribe(t, s, "/v1/queue/subscribeWithState", map[string]any{"queue": "sflow", "owner": "s"})
		enqueue(t, s, "sflow", `{}`)
		d := sub.next(t)
		if d.StateLeaseID == "" {
			t.Fatalf("no state lease on a stateful subscription: %+v", d.Message)
		}
		mustOK(t, ack(s, d.Message, "state_lease_id", d.StateLeaseID, "state_fencing_token", d.StateFencingToken), "ack")
	})
}

// Shutdown ends open subscription and watch streams at once instead of
// waiting its whole timeout for them; the subscriber sees its stream end.
func TestShutdownEndsStreams(t *testing.T) {
	s := edgetest.Start(t, edgetest.Mem, server.Config{})
	sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "bye", "owner": "s1"})
	watch := streamRequest(t, s, "/v1/queue/watch", map[string]any{"queue": "bye"})
	defer watch.Body.Close()
	eventually(t, "a subscriber", func() bool { return stats(t, s, "bye").Subscribers == 1 })
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		closed <- s.Close(ctx)
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown waited for the open streams")
	}
	select {
	case _, ok := <-sub.out:
		if ok {
			t.Fatal("delivery on a queue nobody enqueued to")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription stream still open after shutdown")
	}
	if _, err := io.ReadAll(watch.Body); err != nil {
		t.Logf("watch stream ended with %v", err)
	}
}
