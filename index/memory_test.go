//go:build !race

package index_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store/mem"
)

// synthetic is a Source of n generated documents in one namespace; it
// holds none of them, so any growth of the heap during a query is the
// query's own.
type synthetic struct {
	n      int
	sample func(i int)
}

func synthKey(i int) string { return fmt.Sprintf("k%07d", i) }

func synthDoc(i int) []byte {
	return []byte(fmt.Sprintf(`{"i":%d,"status":"s%d","pad":"%s"}`, i, i%7, strings.Repeat("x", 64)))
}

func (s *synthetic) Scan(ctx context.Context, ns, after string, fn func(keyspace.Document) error) error {
	start := 0
	if after != "" {
		fmt.Sscanf(after, "k%d", &start)
		start++
	}
	for i := start; i < s.n; i++ {
		if s.sample != nil {
			s.sample(i)
		}
		doc := synthDoc(i)
		d := keyspace.Document{Ref: keyspace.Ref{Namespace: ns, Key: synthKey(i)}, Version: 1,
			View: keyspace.View{Version: 1, Size: int64(len(doc)), Inline: doc}}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *synthetic) ReadCommitted(_ context.Context, ref keyspace.Ref) (keyspace.View, error) {
	var i int
	fmt.Sscanf(ref.Key, "k%d", &i)
	doc := synthDoc(i)
	return keyspace.View{Version: 1, Size: int64(len(doc)), Inline: doc}, nil
}

func (s *synthetic) OpenState(context.Context, keyspace.View) (io.ReadCloser, error) {
	return nil, io.ErrUnexpectedEOF
}

func (s *synthetic) Namespaces(context.Context) ([]string, error) { return []string{"big"}, nil }

// TestQueryMillionDocumentsBoundedHeap scans a namespace of 1,000,000
// documents in one page (the selector matches only the last one, in
// documents mode) and checks that the live heap never grows by more than
// a few MiB: the documents (~100 MB) are streamed, not materialized.
func TestQueryMillionDocumentsBoundedHeap(t *testing.T) {
	const n = 1_000_000
	src := &synthetic{n: n}
	idx := index.New(src, mem.New(), index.Options{Disabled: true})
	if err := idx.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close(context.Background()) })
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	src.sample = func(i int) {
		if i%100_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	var hits []index.Hit
	res, err := idx.Query(ctx(t), index.Request{Namespace: "big", Selector: mustSel(t, fmt.Sprintf("/i=%d", n-1)), Docs: true, Limit: 1000},
		func(h index.Hit) error { hits = append(hits, h); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Key != synthKey(n-1) || res.Cursor != "" {
		t.Fatalf("hits %d cursor %q", len(hits), res.Cursor)
	}
	growth := int64(peak) - int64(base)
	t.Logf("1,000,000 documents scanned; live heap growth %d KiB", growth>>10)
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d MiB during the scan", growth>>20)
	}
}
