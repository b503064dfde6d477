package edge_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
)

// logBuffer is a concurrency-safe zerolog sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withRecord is b with value planted under key before the server starts.
func withRecord(b edgetest.Backend, key string, value []byte) edgetest.Backend {
	b.Setup = func(t *testing.T, st store.Store) {
		if _, err := st.Put(context.Background(), key, value, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// A corrupt record on disk is a 500 for its key, every time, with a detail
// that names neither the key nor a path; it is logged loudly with the
// details, and every other key keeps working.
func TestCorruptRecordIs500AndServerKeepsServing(t *testing.T) {
	recKey := keyspace.RecordKey(refOf("broken"))
	for _, b := range edgetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			s := edgetest.Start(t, withRecord(b, recKey, []byte{0xB1, 0xFF, 0xFF, 0xFF}), server.Config{Logger: zerolog.New(logs)})
			for _, req := range []struct{ method, path, body string }{
				{"GET", "/v1/describe?key=broken", ""},
				{"POST", "/v1/acquire", `{"key":"broken","owner":"a"}`},
				{"POST", "/v1/get?public=1&key=broken", ""},
				{"GET", "/v1/describe?key=broken", ""}, // still 500: not wedged, not "unavailable"
			} {
				r := s.Do(req.method, req.path, req.body)
				wantError(t, r, 500, api.CodeInternal)
				var e api.ErrorResponse
				r.JSON(t, &e)
				if strings.Contains(e.Detail, "broken") || strings.Contains(e.Detail, "/k/") || !strings.Contains(e.Detail, "corrupt") {
					t.Fatalf("%s %s: detail %q (must say corrupt, must not name the record)", req.method, req.path, e.Detail)
				}
				if r.Header.Get("Retry-After") != "" {
					t.Fatalf("a corrupt record must not invite a retry: %v", r.Header)
				}
			}
			l := acquire(t, s, "fine", "a")
			mustOK(t, l.update(`{"ok":true}`), "update of another key")
			mustOK(t, l.release(false), "release of another key")
			if p := publicGet(s, "fine"); p.Status != 200 || string(p.Body) != `{"ok":true}` {
				t.Fatalf("other key after corruption: %d %s", p.Status, p.Body)
			}
			out := logs.String()
			if c := edgetest.ClusterOf(s); c != nil { // the nodes log to their own stderr
				for _, n := range c.Nodes {
					out += n.Log()
				}
			}
			if !strings.Contains(out, "CORRUPT STORED RECORD") || !strings.Contains(out, recKey) {
				t.Fatalf("corruption not logged loudly with the record's key:\n%s", out)
			}
		})
	}
}

// A store.ErrClosed deep in a wrapped chain (key actor → keyspace
// ErrUnavailable → store) is still recognised at the edge.
func TestStoreClosedIsClassifiedThroughWrapping(t *testing.T) {
	var st store.Store
	b := edgetest.Backend{Name: "mem", Open: func(t *testing.T) store.Store {
		st = edgetest.Mem.Open(t)
		return st
	}}
	s := edgetest.Start(t, b, server.Config{})
	mustOK(t, s.Do("GET", "/v1/describe?key=before", nil), "describe before close")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r := s.Do("GET", "/v1/describe?key=secret-key-name", nil)
	wantError(t, r, 503, api.CodeUnavailable)
	var e api.ErrorResponse
	r.JSON(t, &e)
	if !strings.Contains(e.Detail, "storage is closed") || strings.Contains(e.Detail, "secret-key-name") {
		t.Fatalf("detail %q: want the closed-store classification, without the key", e.Detail)
	}
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
}
