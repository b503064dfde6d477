package server_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/store/storetest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts a server over st and returns what it logged at start.
func startLogged(t *testing.T, st store.Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := server.StartOn(ln, st, server.Config{SweeperInterval: -1, Logger: zerolog.New(&logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

// A store that cannot rebuild the transaction origins makes the server
// say so at start; one that can says nothing about it.
func TestStartSaysWhenOriginsAreNotRebuilt(t *testing.T) {
	if logs := startLogged(t, mem.New()); strings.Contains(logs, "origins were not rebuilt") {
		t.Fatalf("mem store (scans) warned: %s", logs)
	}
	noScan := storetest.Restrict(mem.New(), 1) // Batcher only, like no engine scan
	logs := startLogged(t, noScan)
	if !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, "origins were not rebuilt") {
		t.Fatalf("a store without a record scan started silently: %s", logs)
	}
}
