package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// disk:// admits one process: --ha concurrent is downgraded with a log
// line that says why, and the node serves as the active one.
func TestDiskConcurrentIsDowngraded(t *testing.T) {
	var logs syncBuffer
	srv, err := server.Start(server.Config{Listen: "127.0.0.1:0", Store: "disk://" + t.TempDir(), SweeperInterval: -1,
		HA: server.HA{Mode: "concurrent"}, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeServer(t, srv) })
	if !strings.Contains(logs.String(), "ha=concurrent downgraded to failover: this store admits one process") {
		t.Fatalf("no downgrade message in the log:\n%s", logs.String())
	}
	cli, err := sdk.New(srv.URL(), sdk.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o", TTLSeconds: 5}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatalf("the downgraded node does not serve: %v", err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A cluster on disk:// is refused before the store is opened: every node
// would serve its own pebble directory, and a key moving between nodes
// would come back with another node's record.
func TestClusterOnDiskIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, store := range []string{"disk://" + dir, "file://" + dir} {
		_, err := server.Start(server.Config{Listen: "127.0.0.1:0", Store: store, SweeperInterval: -1,
			Cluster: &server.ClusterConfig{Listen: "127.0.0.1:0"}})
		if !errors.Is(err, server.ErrClusterOnDisk) {
			t.Fatalf("%s: cluster start answered %v, want ErrClusterOnDisk", store, err)
		}
		if !strings.Contains(err.Error(), "admits one process") || !strings.Contains(err.Error(), "s3://") {
			t.Fatalf("the refusal does not say why and what to use: %v", err)
		}
	}
	// The refusal came before the store was opened: the same directory
	// serves a single node at once.
	srv, err := server.Start(server.Config{Listen: "127.0.0.1:0", Store: "disk://" + dir, SweeperInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	closeServer(t, srv)
}
