// Package storetest is the contract suite every store driver passes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
)

// Factory returns a fresh, empty store for one subtest. The suite closes it.
type Factory func(t *testing.T) store.Store

// Run runs the contract suite against stores made by f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"CreateOnly", testCreateOnly},
		{"IfMatch", testIfMatch},
		{"Delete", testDelete},
		{"List", testList},
		{"BatchAtomic", testBatchAtomic},
		{"ConcurrentCAS", testConcurrentCAS},
		{"Blobs", testBlobs},
		{"BlobFailedWrite", testBlobFailedWrite},
		{"KeysWithOddBytes", testOddKeys},
		{"Scanner", testScanner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := f(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func testGetMissing(t *testing.T, s store.Store) {
	if _, err := s.Get(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
}

func testPutGet(t *testing.T, s store.Store) {
	c := ctx(t)
	tag1, err := s.Put(c, "a/b", []byte("one"), store.Cond{})
	if err != nil || tag1 == "" {
		t.Fatalf("Put: %q %v", tag1, err)
	}
	rec, err := s.Get(c, "a/b")
	if err != nil || string(rec.Value) != "one" || rec.ETag != tag1 {
		t.Fatalf("Get: %+v %v, want one/%s", rec, err, tag1)
	}
	tag2, err := s.Put(c, "a/b", []byte("two"), store.Cond{})
	if err != nil || tag2 == tag1 {
		t.Fatalf("overwrite: %q %v (etag must change)", tag2, err)
	}
	rec.Value[0] = 'X' // callers own returned slices
	rec, _ = s.Get(c, "a/b")
	if string(rec.Value) != "two" {
		t.Fatalf("value %q, want two", rec.Value)
	}
	empty, err := s.Put(c, "empty", nil, store.Cond{})
	if err != nil || empty == "" {
		t.Fatalf("Put empty: %v", err)
	}
	if rec, err := s.Get(c, "empty"); err != nil || len(rec.Value) != 0 {
		t.Fatalf("Get empty: %+v %v", rec, err)
	}
}

func testCreateOnly(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.Put(c, "k", []byte("1"), store.Cond{IfNotExists: true}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := s.Put(c, "k", []byte("2"), store.Cond{IfNotExists: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	if rec, _ := s.Get(c, "k"); string(rec.Value) != "1" {
		t.Fatalf("failed create changed value to %q", rec.Value)
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.Put(c, "k", []byte("x"), store.Cond{IfMatch: "bogus"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("IfMatch on missing: %v, want ErrConflict", err)
	}
	tag, _ := s.Put(c, "k", []byte("1"), store.Cond{})
	tag2, err := s.Put(c, "k", []byte("2"), store.Cond{IfMatch: tag})
	if err != nil {
		t.Fatalf("IfMatch current: %v", err)
	}
	if _, err := s.Put(c, "k", []byte("3"), store.Cond{IfMatch: tag}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("IfMatch stale: %v, want ErrConflict", err)
	}
	if err := s.Delete(c, "k", store.Cond{IfMatch: tag}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Delete stale: %v, want ErrConflict", err)
	}
	if err := s.Delete(c, "k", store.Cond{IfMatch: tag2}); err != nil {
		t.Fatalf("Delete current: %v", err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	c := ctx(t)
	if err := s.Delete(c, "missing", store.Cond{}); err != nil {
		t.Fatalf("Delete missing: %v", err)
	}
	s.Put(c, "k", []byte("1"), store.Cond{})
	if err := s.Delete(c, "k", store.Cond{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(c, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	if _, err := s.Put(c, "k", []byte("2"), store.Cond{IfNotExists: true}); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

func testList(t *testing.T, s store.Store) {
	c := ctx(t)
	for _, k := range []string{"ns/b", "ns/a", "ns/c/d", "nt/x", "n"} {
		if _, err := s.Put(c, k, []byte(k), store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(c, "ns/", "", 0)
	if err != nil || strings.Join(got, ",") != "ns/a,ns/b,ns/c/d" {
		t.Fatalf("List: %v %v", got, err)
	}
	got, _ = s.List(c, "ns/", "ns/a", 1)
	if strings.Join(got, ",") != "ns/b" {
		t.Fatalf("List after/limit: %v", got)
	}
	got, _ = s.List(c, "ns/", "ns/c/d", 10)
	if len(got) != 0 {
		t.Fatalf("List past end: %v", got)
	}
	// Paging visits every key exactly once.
	var all []string
	after := ""
	for {
		page, err := s.List(c, "", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1]
	}
	if strings.Join(all, ",") != "n,ns/a,ns/b,ns/c/d,nt/x" {
		t.Fatalf("paged List: %v", all)
	}
}

func testBatchAtomic(t *testing.T, s store.Store) {
	c := ctx(t)
	tag, _ := s.Put(c, "x", []byte("0"), store.Cond{})
	ops := []store.Op{
		{Key: "y", Value: []byte("1"), Cond: store.Cond{IfNotExists: true}},
		{Key: "x", Value: []byte("1"), Cond: store.Cond{IfMatch: "stale"}},
	}
	_, _, err := store.Apply(c, s, ops)
	if _, ok := s.(store.Batcher); ok {
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("batch with failing cond: %v", err)
		}
		if _, err := s.Get(c, "y"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("failed batch applied its first op: %v", err)
		}
	}
	ops[1].Cond.IfMatch = tag
	if _, ok := s.(store.Batcher); !ok {
		s.Delete(c, "y", store.Cond{})
	}
	tags, d, err := store.Apply(c, s, ops)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	for i, k := range []string{"y", "x"} {
		rec, err := s.Get(c, k)
		if err != nil || string(rec.Value) != "1" || rec.ETag != tags[i] {
			t.Fatalf("after batch %s: %+v %v (tag %s)", k, rec, err, tags[i])
		}
	}
	if _, d, err = store.Apply(c, s, []store.Op{{Key: "x", Delete: true}}); err != nil || d.Wait() != nil {
		t.Fatalf("batch delete: %v", err)
	}
	if _, err := s.Get(c, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("x after batch delete: %v", err)
	}
}

// testConcurrentCAS checks that of many writers racing with the same
// IfMatch, exactly one wins each round.
func testConcurrentCAS(t *testing.T, s store.Store) {
	c := ctx(t)
	tag, _ := s.Put(c, "ctr", []byte("0"), store.Cond{})
	const writers = 8
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, newTag := 0, ""
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				nt, err := s.Put(c, "ctr", []byte(fmt.Sprint(w)), store.Cond{IfMatch: tag})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
					newTag = nt
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("writer %d: %v", w, err)
				}
			}(w)
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, wins)
		}
		tag = newTag
	}
}

func testBlobs(t *testing.T, s store.Store) {
	c := ctx(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 300000) // ~4.8 MB
	n, err := s.WriteBlob(c, "ns/k/blob1", bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("WriteBlob: %d %v", n, err)
	}
	r, size, err := s.OpenBlob(c, "ns/k/blob1")
	if err != nil || size != int64(len(data)) {
		t.Fatalf("OpenBlob: %d %v", size, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob content differs (%d bytes, %v)", len(got), err)
	}
	if _, err := s.WriteBlob(c, "ns/k/blob1", strings.NewReader("small")); err != nil {
		t.Fatalf("replace blob: %v", err)
	}
	r, size, _ = s.OpenBlob(c, "ns/k/blob1")
	got, _ = io.ReadAll(r)
	r.Close()
	if string(got) != "small" || size != 5 {
		t.Fatalf("replaced blob %q size %d", got, size)
	}
	s.WriteBlob(c, "ns/k/blob2", strings.NewReader(""))
	s.WriteBlob(c, "ns/j/blob", strings.NewReader("x"))
	names, err := s.ListBlobs(c, "ns/k/", "", 0)
	if err != nil || strings.Join(names, ",") != "ns/k/blob1,ns/k/blob2" {
		t.Fatalf("ListBlobs: %v %v", names, err)
	}
	if _, err := s.Get(c, "ns/k/blob1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("blob visible as record: %v", err)
	}
	if err := s.DeleteBlob(c, "ns/k/blob1"); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	if err := s.DeleteBlob(c, "ns/k/blob1"); err != nil {
		t.Fatalf("DeleteBlob twice: %v", err)
	}
	if _, _, err := s.OpenBlob(c, "ns/k/blob1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBlob deleted: %v", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func testBlobFailedWrite(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.WriteBlob(c, "b", &failingReader{n: 1 << 20}); err == nil {
		t.Fatal("WriteBlob with failing reader succeeded")
	}
	if _, _, err := s.OpenBlob(c, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed write left a blob: %v", err)
	}
}

func testOddKeys(t *testing.T, s store.Store) {
	c := ctx(t)
	keys := []string{"a b/c", "ünï/ködé", "x/../y", ".txns/abc", "q/%2F", "k\xff"}
	for _, k := range keys {
		if _, err := s.Put(c, k, []byte(k), store.Cond{}); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
		if _, err := s.WriteBlob(c, k, strings.NewReader(k)); err != nil {
			t.Fatalf("WriteBlob %q: %v", k, err)
		}
	}
	for _, k := range keys {
		rec, err := s.Get(c, k)
		if err != nil || string(rec.Value) != k {
			t.Fatalf("Get %q: %q %v", k, rec.Value, err)
		}
	}
}

func testScanner(t *testing.T, s store.Store) {
	sc, ok := s.(store.Scanner)
	if !ok {
		return // optional ability
	}
	c := ctx(t)
	for _, k := range []string{"p/a", "p/b", "p/c", "q/a"} {
		s.Put(c, k, []byte("v"+k), store.Cond{})
	}
	var got []string
	err := sc.Scan(c, "p/", "p/a", 0, func(k string, rec store.Record) error {
		if string(rec.Value) != "v"+k || rec.ETag == "" {
			t.Errorf("%s: %+v", k, rec)
		}
		got = append(got, k)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "p/b,p/c" {
		t.Fatalf("Scan: %v %v", got, err)
	}
	got = nil
	sc.Scan(c, "p/", "", 2, func(k string, _ store.Record) error { got = append(got, k); return nil })
	if strings.Join(got, ",") != "p/a,p/b" {
		t.Fatalf("Scan limit: %v", got)
	}
	stop := errors.New("stop")
	if err := sc.Scan(c, "", "", 0, func(string, store.Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Scan error: %v", err)
	}
}
