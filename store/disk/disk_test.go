package disk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/storetest"
)

func open(t *testing.T, dir string) *disk.Store {
	t.Helper()
	s, err := disk.Open(dir, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

func TestReopenKeepsRecordsAndBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	tag, _ := s.Put(ctx, "k", []byte("v"), store.Cond{})
	s.WriteBlob(ctx, "b", strings.NewReader("blob"))
	s.Close()
	s = open(t, dir)
	defer s.Close()
	rec, err := s.Get(ctx, "k")
	if err != nil || string(rec.Value) != "v" || rec.ETag != tag {
		t.Fatalf("after reopen: %+v %v", rec, err)
	}
	if _, err := s.Put(ctx, "k", []byte("w"), store.Cond{IfMatch: tag}); err != nil {
		t.Fatalf("etag not stable across reopen: %v", err)
	}
	if names, _ := s.ListBlobs(ctx, "", "", 0); len(names) != 1 {
		t.Fatalf("blobs after reopen: %v", names)
	}
}
