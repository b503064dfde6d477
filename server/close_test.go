package server_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/lockdhq/lockd/server"
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
