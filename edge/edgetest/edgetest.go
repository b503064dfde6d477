// Package edgetest starts real lockd servers on loopback for tests and
// talks to them over HTTP.
package edgetest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
)

// Backend names a store a test server runs on.
type Backend struct {
	Name string
	Open func(t *testing.T) store.Store
	// Cluster, when set, makes Start run three real lockd processes on the
	// store it names (a URL and the credentials' environment), behind a
	// round-robin TCP balancer that the test talks to (cluster.go).
	Cluster func(t *testing.T) (url string, env []string)
	// Setup, when set, runs on the store before the server (or a
	// cluster's nodes) starts, e.g. to plant a record.
	Setup func(t *testing.T, st store.Store)
}

// Mem and Disk are the built-in backends.
var (
	Mem  = Backend{Name: "mem", Open: func(*testing.T) store.Store { return mem.New() }}
	Disk = Backend{Name: "disk", Open: func(t *testing.T) store.Store {
		s, err := disk.Open(t.TempDir(), disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
)

// S3 and Azure run on real test servers (versitygw, Azurite) on loopback,
// a fresh bucket or container per test.
var (
	S3    = Backend{Name: "s3", Open: func(t *testing.T) store.Store { return testservers.NewS3Store(t) }}
	Azure = Backend{Name: "azure", Open: func(t *testing.T) store.Store { return testservers.NewAzureStore(t) }}
)

// Backends lists the backends HTTP tests run on: $LOCKD_TEST_BACKENDS
// (comma-separated names: mem, disk, s3, azure, cluster-s3, cluster-azure),
// by default mem and disk. scripts/test.sh runs the HTTP tests once more on
// s3 and azure; the cluster-* backends run them through a balancer in
// front of three nodes sharing one bucket or container.
func Backends() []Backend {
	names := os.Getenv("LOCKD_TEST_BACKENDS")
	if names == "" {
		names = "mem,disk"
	}
	all := map[string]Backend{"mem": Mem, "disk": Disk, "s3": S3, "azure": Azure,
		"cluster-s3": ClusterS3, "cluster-azure": ClusterAzure}
	var out []Backend
	for _, n := range strings.Split(names, ",") {
		b, ok := all[strings.TrimSpace(n)]
		if !ok {
			panic("LOCKD_TEST_BACKENDS: unknown backend " + n)
		}
		out = append(out, b)
	}
	return out
}

// Node is what tests reach: one in-process server, or the balancer in
// front of a cluster.
type Node interface {
	URL() string
	Addr() net.Addr
	Close(ctx context.Context) error
	// Drain starts draining (every node of a cluster).
	Drain()
}

var _ Node = (*server.Server)(nil)

// Server is a running test server and an HTTP client for it.
type Server struct {
	Node
	T      *testing.T
	Client *http.Client
	// Base, when set, is the URL requests go to instead of the server's.
	Base string
}

// Start serves a fresh server over b on 127.0.0.1:0; cfg's zero fields take
// defaults. The server stops when the test ends.
func Start(t *testing.T, b Backend, cfg server.Config) *Server {
	t.Helper()
	if b.Cluster != nil {
		return startCluster(t, b, cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := b.Open(t)
	if b.Setup != nil {
		b.Setup(t, st)
	}
	srv := server.StartOn(ln, st, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return &Server{Node: srv, T: t, Client: &http.Client{Timeout: 2 * time.Minute}}
}

// Response is a decoded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// ErrorCode returns the "error" field of a JSON error body.
func (r Response) ErrorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error
}

// Do sends a request. body may be nil, a string, []byte, io.Reader or any
// value (JSON-encoded). headers alternate name, value.
func (s *Server) Do(method, path string, body any, headers ...string) Response {
	s.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
	case io.Reader:
		rd = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			s.T.Fatal(err)
		}
		rd = strings.NewReader(string(enc))
	}
	base := s.Base
	if base == "" {
		base = s.URL()
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		s.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.T.Fatalf("%s %s: read: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// InProc returns the in-process server behind s. A test that needs one (to
// reach its services or force its admission controller) starts it on an
// in-process backend; on a cluster backend, whose nodes are separate
// processes, asking is a mistake of the test and fails it.
func (s *Server) InProc() *server.Server {
	s.T.Helper()
	srv, ok := s.Node.(*server.Server)
	if !ok {
		s.T.Fatal("edgetest: InProc on a backend of separate processes; start this test on an in-process backend")
	}
	return srv
}

// ForceQRFObserve feeds the in-process server's admission controller a
// sample (server.Server.ForceQRFObserve).
func (s *Server) ForceQRFObserve(snap admission.Snapshot) { s.InProc().ForceQRFObserve(snap) }

// QRFStatus is the in-process server's admission posture.
func (s *Server) QRFStatus() admission.Status { return s.InProc().QRFStatus() }
