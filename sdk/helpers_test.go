package sdk_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// transports are the ways tests reach a server.
var transports = []string{"tcp", "unix"}

// testServer is a real lockd node on loopback TCP or a private unix socket.
type testServer struct {
	*server.Server
	Endpoint string
}

func startServer(t *testing.T, network string, cfg server.Config) *testServer {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	switch network {
	case "unix":
		ln, err = net.Listen("unix", filepath.Join(shortTempDir(t), "lockd.sock"))
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := server.StartOn(ln, mem.New(), cfg)
	ts := &testServer{Server: srv, Endpoint: "http://" + ln.Addr().String()}
	if network == "unix" {
		ts.Endpoint = "unix://" + ln.Addr().String()
	}
	t.Cleanup(func() { ts.stop() })
	return ts
}

func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts.Close(ctx)
}

// shortTempDir keeps unix socket paths under the 108-byte limit.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "lockd-sdk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func newClient(t *testing.T, endpoint string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	opts = append([]sdk.Option{sdk.WithBackoff(10*time.Millisecond, 200*time.Millisecond)}, opts...)
	c, err := sdk.New(endpoint, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testCtx is a context bounded for one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// forEachTransport runs f against a fresh server on each transport.
func forEachTransport(t *testing.T, cfg server.Config, f func(t *testing.T, ts *testServer, c *sdk.Client)) {
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, cfg)
			f(t, ts, newClient(t, ts.Endpoint))
		})
	}
}
