package inprocess_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/sdk/inprocess"
)

func TestInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := inprocess.New(ctx, inprocess.WithDiskDir(dir), inprocess.WithClientOptions(sdk.WithDefaultNamespace("demo")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.Endpoint(), "unix://") {
		t.Fatalf("endpoint %q", srv.Endpoint())
	}
	sess, err := srv.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "inproc", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]int{"n": 7}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(ctx); err != nil { // Close releases (commits) open sessions
		t.Fatal(err)
	}
	// The data survives a restart on the same directory.
	srv2, err := inprocess.New(ctx, inprocess.WithDiskDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close(ctx)
	var v map[string]int
	g, err := srv2.Get(ctx, "k", sdk.WithNamespace("demo"))
	if err != nil || g.Decode(&v) != nil || v["n"] != 7 {
		t.Fatalf("after restart: %v %v", err, v)
	}
}
