package server_test

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// Close right after StartOn returns, even when the serving goroutine has
// not run yet (one P: it cannot run before Close blocks); it used to wait
// for that goroutine forever.
func TestCloseRightAfterStart(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for i := 0; i < 20; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := server.StartOn(ln, mem.New(), server.Config{SweeperInterval: -1})
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- srv.Close(ctx)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("close: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Close did not return", i)
		}
	}
}

// closeWatch is a store that reports any call still running, or starting,
// once the server has closed it; List is slow so that the TC announce and
// election loops are inside a store call when Close begins.
type closeWatch struct {
	store.Store
	t        *testing.T
	inflight atomic.Int64
	closed   atomic.Bool
}

func (c *closeWatch) enter(op string) func() {
	if c.closed.Load() {
		c.t.Errorf("%s after the store was closed", op)
	}
	c.inflight.Add(1)
	return func() { c.inflight.Add(-1) }
}

func (c *closeWatch) Get(ctx context.Context, key string) (store.Record, error) {
	defer c.enter("Get " + key)()
	return c.Store.Get(ctx, key)
}

func (c *closeWatch) Put(ctx context.Context, key string, v []byte, cond store.Cond) (string, error) {
	defer c.enter("Put " + key)()
	return c.Store.Put(ctx, key, v, cond)
}

func (c *closeWatch) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	defer c.enter("List " + prefix)()
	select {
	case <-time.After(20 * time.Millisecond):
	case <-ctx.Done():
	}
	return c.Store.List(ctx, prefix, after, limit)
}

func (c *closeWatch) Close() error {
	if n := c.inflight.Load(); n != 0 {
		c.t.Errorf("store closed with %d calls in flight", n)
	}
	c.closed.Store(true)
	return c.Store.Close()
}

// Close waits for the background loops (TC election and announce, replay,
// sweeper) before it closes the store: a loop inside a store call when the
// store closed crashed the process on disk (pebble panics on a closed DB).
func TestCloseWaitsForBackgroundLoops(t *testing.T) {
	for i := 0; i < 10; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st := &closeWatch{Store: mem.New(), t: t}
		srv := server.StartOn(ln, st, server.Config{SweeperInterval: 10 * time.Millisecond, TCLeaseTTL: 30 * time.Millisecond})
		time.Sleep(time.Duration(i) * 7 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		cancel()
		time.Sleep(50 * time.Millisecond) // a loop that outlived Close calls the store now
	}
}
