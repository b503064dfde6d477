package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
)

// When a consumer stops, the deliveries the server already leased to its
// stream but no handler saw go back to the queue at once: another
// consumer gets them without waiting out their visibility timeout.
func TestConsumerStopReturnsPrefetched(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		const n = 6
		for i := range n {
			_, err := c.Enqueue(ctx, "pre", strings.NewReader(fmt.Sprint(i)),
				sdk.EnqueueOptions{Visibility: 10 * time.Minute, MaxAttempts: 2})
			if err != nil {
				t.Fatal(err)
			}
		}
		started := make(chan string, n)
		release := make(chan struct{})
		handler := func(_ context.Context, m *sdk.QueueMessage) error {
			started <- m.ID()
			<-release
			return nil
		}
		subCtx, stop := context.WithCancel(ctx)
		defer stop()
		errc := make(chan error, 1)
		go func() {
			errc <- c.Subscribe(subCtx, "pre", sdk.ConsumerOptions{Owner: "c", Concurrency: 1, Prefetch: 4}, handler)
		}()
		var handled string
		select {
		case handled = <-started:
		case <-ctx.Done():
			t.Fatal("no delivery reached the handler")
		}
		// The server has leased the whole prefetch to the stream: one
		// delivery in the handler, three that no handler saw.
		waitFor(t, func() bool {
			st, err := c.QueueStats(ctx, "pre")
			return err == nil && st.InFlight == 4
		})
		stop()
		close(release) // the running handler finishes within the grace
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Subscribe did not return after its context ended")
		}
		st, err := c.QueueStats(ctx, "pre")
		if err != nil {
			t.Fatal(err)
		}
		if st.InFlight != 0 || st.Ready != n-1 || st.Subscribers != 0 {
			t.Fatalf("after stop: %+v, want %d ready, none in flight", st, n-1)
		}
		// Another consumer gets every other message now, each once, and
		// the returns did not count as failed attempts.
		got := map[string]bool{}
		for range n - 1 {
			m, err := c.Dequeue(ctx, "pre", sdk.DequeueOptions{Owner: "d", BlockSeconds: sdk.BlockNoWait})
			if err != nil {
				t.Fatalf("dequeue after stop: %v (got %d)", err, len(got))
			}
			if m.ID() == handled || got[m.ID()] || m.Meta().FailureAttempts != 0 {
				t.Fatalf("redelivered %s (handled %s, got %v): %+v", m.ID(), handled, got, m.Meta())
			}
			got[m.ID()] = true
			if err := m.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Dequeue(ctx, "pre", sdk.DequeueOptions{Owner: "d", BlockSeconds: sdk.BlockNoWait}); !errors.Is(err, sdk.ErrWaiting) {
			t.Fatalf("queue not empty: %v", err)
		}
	})
}
