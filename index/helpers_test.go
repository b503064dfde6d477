package index_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/index/lql"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store/mem"
)

// env is a key service and an index over one mem store.
type env struct {
	t    *testing.T
	st   *mem.Store
	keys *keyspace.Service
	idx  *index.Service
	opt  index.Options
}

func newEnv(t *testing.T, opt index.Options) *env {
	e := &env{t: t, st: mem.New(), opt: opt}
	e.start()
	return e
}

func (e *env) start() {
	e.keys = keyspace.New(actors.NewSystem(), e.st, keyspace.Config{Actors: actors.Config{IdleAfter: -1}})
	e.idx = index.New(e.keys, e.st, e.opt)
	e.keys.SetObserver(e.idx)
	if err := e.idx.Start(ctx(e.t)); err != nil {
		e.t.Fatal(err)
	}
	keys, idx := e.keys, e.idx
	e.t.Cleanup(func() {
		keys.Close()
		idx.Close(context.Background())
	})
}

// restart closes both services cleanly and starts new ones on the store.
func (e *env) restart() {
	e.keys.Close()
	if err := e.idx.Close(ctx(e.t)); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

// crash stops the services without a clean close and keeps only what
// the store made durable.
func (e *env) crash() {
	e.keys.Close()
	e.st = e.st.Crash()
	e.start()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func sum(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

// put commits body (compact JSON, or "" to remove) under key in ns; hidden
// sets the query_hidden flag when not nil.
func (e *env) put(ns, key, body string, hidden *bool) {
	e.t.Helper()
	c := ctx(e.t)
	ref := keyspace.Ref{Namespace: ns, Key: key}
	l, err := e.keys.Acquire(c, keyspace.AcquireRequest{Ref: ref, Owner: "t"})
	if err != nil {
		e.t.Fatal(err)
	}
	p := keyspace.LeaseProof{LeaseID: l.LeaseID, Fencing: l.Fencing, TxnID: l.TxnID}
	switch {
	case body == "":
		_, err = e.keys.Remove(c, keyspace.RemoveRequest{Ref: ref, LeaseProof: p})
	default:
		_, err = e.keys.Update(c, keyspace.UpdateRequest{Ref: ref, LeaseProof: p, Hidden: hidden,
			Body: strings.NewReader(body), Size: int64(len(body)), ETag: sum(body)})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.keys.Release(c, keyspace.ReleaseRequest{Ref: ref, LeaseProof: p}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) flush(ns string) {
	e.t.Helper()
	if _, err := e.idx.Flush(ctx(e.t), ns); err != nil {
		e.t.Fatal(err)
	}
}

// query pages through every result with the given page size and returns
// the keys, failing on a repeated or unordered key.
func (e *env) query(ns string, sel *lql.Selector, engine index.Engine, limit int) []string {
	e.t.Helper()
	var out []string
	after := ""
	for page := 0; page < 10_000; page++ {
		res, err := e.idx.Query(ctx(e.t), index.Request{Namespace: ns, Selector: sel, Limit: limit, After: after, Engine: engine},
			func(h index.Hit) error {
				if len(out) > 0 && h.Key <= out[len(out)-1] {
					e.t.Fatalf("key %q after %q: not ascending", h.Key, out[len(out)-1])
				}
				out = append(out, h.Key)
				return nil
			})
		if err != nil {
			e.t.Fatalf("query %s engine=%s: %v", sel, engine, err)
		}
		if res.Cursor == "" {
			return out
		}
		if after, err = index.DecodeCursor(res.Cursor); err != nil {
			e.t.Fatal(err)
		}
	}
	e.t.Fatal("too many pages")
	return nil
}

func mustSel(t *testing.T, text string) *lql.Selector {
	t.Helper()
	s, err := lql.ParseSelector(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sorted(m map[string]bool) []string {
	out := []string{}
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func bytesReader(b []byte) *strings.Reader { return strings.NewReader(string(b)) }
