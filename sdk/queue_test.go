package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestQueueEnqueueDequeueAck(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		payload := bytes.Repeat([]byte("x"), 3<<20) // streamed, larger than any buffer
		res, err := c.Enqueue(ctx, "jobs", bytes.NewReader(payload), sdk.EnqueueOptions{
			ContentType: "application/octet-stream", Attributes: map[string]any{"kind": "big"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.MessageID == "" || res.PayloadBytes != int64(len(payload)) {
			t.Fatalf("enqueue = %+v", res)
		}
		m, err := c.Dequeue(ctx, "jobs", sdk.DequeueOptions{Owner: "w", BlockSeconds: sdk.BlockNoWait})
		if err != nil {
			t.Fatal(err)
		}
		if m.ID() != res.MessageID || m.Meta().Attributes["kind"] != "big" {
			t.Fatalf("dequeued %+v", m.Meta())
		}
		var got bytes.Buffer
		if _, err := m.WritePayloadTo(&got); err != nil || !bytes.Equal(got.Bytes(), payload) {
			t.Fatalf("payload: %v (%d bytes)", err, got.Len())
		}
		if err := m.Extend(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(ctx); !errors.Is(err, sdk.ErrMessageSettled) {
			t.Fatalf("second ack: %v", err)
		}
		_, err = c.Dequeue(ctx, "jobs", sdk.DequeueOptions{Owner: "w", BlockSeconds: sdk.BlockNoWait})
		if !errors.Is(err, sdk.ErrWaiting) {
			t.Fatalf("empty queue: %v", err)
		}
		st, err := c.QueueStats(ctx, "jobs")
		if err != nil || st.Available || st.Queue != "jobs" {
			t.Fatalf("stats: %v %+v", err, st)
		}
	})
}

func TestQueueNackIntentAndBatch(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := c.Enqueue(ctx, "batch", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)),
			sdk.EnqueueOptions{ContentType: "application/json", MaxAttempts: 5}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := c.DequeueBatch(ctx, "batch", sdk.DequeueOptions{Owner: "w", PageSize: 3, BlockSeconds: sdk.BlockNoWait})
	if err != nil || len(msgs) != 3 {
		t.Fatalf("batch: %v %d", err, len(msgs))
	}
	for i, m := range msgs {
		var v struct{ N int }
		if err := m.DecodePayloadJSON(&v); err != nil || v.N != i {
			t.Fatalf("payload %d: %v %+v", i, err, v)
		}
	}
	if err := msgs[0].Nack(ctx, sdk.NackOptions{Intent: api.NackIntentDefer}); err != nil {
		t.Fatal(err)
	}
	if err := msgs[1].Nack(ctx, sdk.NackOptions{LastError: "boom"}); err != nil {
		t.Fatal(err)
	}
	if err := msgs[2].Close(); err != nil { // unsettled: nacked as a failure
		t.Fatal(err)
	}
	again, err := c.DequeueBatch(ctx, "batch", sdk.DequeueOptions{Owner: "w", PageSize: 3, BlockSeconds: 5})
	if err != nil || len(again) != 3 {
		t.Fatalf("redelivery: %v %d", err, len(again))
	}
	failures := map[string]int64{}
	for _, m := range again {
		failures[m.ID()] = m.Meta().FailureAttempts
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if failures[msgs[0].ID()] != 0 || failures[msgs[1].ID()] != 1 || failures[msgs[2].ID()] != 1 {
		t.Fatalf("failure attempts = %v", failures)
	}
}

func TestQueueDequeueWithState(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "flows", strings.NewReader("go"), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := c.DequeueWithState(ctx, "flows", sdk.DequeueOptions{Owner: "w", BlockSeconds: sdk.BlockNoWait})
	if err != nil {
		t.Fatal(err)
	}
	st := m.State()
	if st == nil || st.Key != sdk.StateKey("flows", m.ID()) {
		t.Fatalf("state = %+v", st)
	}
	if err := st.Save(ctx, map[string]int{"step": 2}); err != nil {
		t.Fatal(err)
	}
	if err := m.Extend(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, 1); !errors.Is(err, sdk.ErrSessionClosed) {
		t.Fatalf("state after ack: %v", err)
	}
}

func TestQueueDequeueWaitsForEnqueue(t *testing.T) {
	ts := startServer(t, "unix", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	got := make(chan error, 1)
	go func() {
		m, err := c.Dequeue(ctx, "later", sdk.DequeueOptions{Owner: "w"}) // BlockWaitForever
		if err == nil {
			err = m.Ack(ctx)
		}
		got <- err
	}()
	if _, err := c.Enqueue(ctx, "later", nil, sdk.EnqueueOptions{Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("dequeue did not return")
	}
}

func TestConsumerSubscribe(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		const n = 20
		for i := range n {
			if _, err := c.Enqueue(ctx, "work", strings.NewReader(fmt.Sprint(i)), sdk.EnqueueOptions{MaxAttempts: 3}); err != nil {
				t.Fatal(err)
			}
		}
		var (
			mu       sync.Mutex
			seen     = map[string]int{}
			running  int
			peak     int
			finished = make(chan struct{})
		)
		subCtx, stop := context.WithCancel(ctx)
		defer stop()
		handler := func(hctx context.Context, m *sdk.QueueMessage) error {
			body, _ := io.ReadAll(m)
			mu.Lock()
			running++
			peak = max(peak, running)
			seen[string(body)]++
			first := seen[string(body)] == 1
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			running--
			done := len(seen) == n
			mu.Unlock()
			if string(body) == "7" && first {
				return errors.New("transient") // nacked, redelivered
			}
			if done {
				select {
				case <-finished:
				default:
					close(finished)
				}
			}
			return nil
		}
		errc := make(chan error, 1)
		go func() {
			errc <- c.Subscribe(subCtx, "work", sdk.ConsumerOptions{Owner: "c1", Concurrency: 4, Prefetch: 8}, handler)
		}()
		select {
		case <-finished:
		case <-ctx.Done():
			st, _ := c.QueueStats(context.Background(), "work")
			mu.Lock()
			t.Fatalf("consumer saw %d of %d: %v; stats %+v", len(seen), n, seen, st)
		}
		// Wait for the redelivered "7" too, then stop gracefully.
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return seen["7"] == 2 })
		stop()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if peak > 4 {
			t.Fatalf("concurrency peak %d > 4", peak)
		}
		st, err := c.QueueStats(ctx, "work")
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready+st.InFlight+st.Delayed != 0 {
			t.Fatalf("left behind: %+v", st)
		}
	})
}

// waitFor polls cond (a test-side observation, bounded).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueueDeadLetters(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint)
	ctx := testCtx(t)
	res, err := c.Enqueue(ctx, "fragile", strings.NewReader("x"), sdk.EnqueueOptions{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Dequeue(ctx, "fragile", sdk.DequeueOptions{Owner: "w", BlockSeconds: sdk.BlockNoWait})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Nack(ctx, sdk.NackOptions{LastError: map[string]string{"detail": "bad input"}}); err != nil {
		t.Fatal(err)
	}
	list, err := c.QueueDLQList(ctx, api.QueueDLQListRequest{Queue: "fragile"})
	if err != nil || len(list.Messages) != 1 || list.Messages[0].MessageID != res.MessageID {
		t.Fatalf("dlq list: %v %+v", err, list)
	}
	rq, err := c.QueueDLQRequeue(ctx, api.QueueDLQRequeueRequest{Queue: "fragile", All: true})
	if err != nil || len(rq.Requeued) != 1 {
		t.Fatalf("requeue: %v %+v", err, rq)
	}
	m, err = c.Dequeue(ctx, "fragile", sdk.DequeueOptions{Owner: "w", BlockSeconds: 5})
	if err != nil || m.ID() != res.MessageID {
		t.Fatalf("after requeue: %v", err)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}
