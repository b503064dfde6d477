package disk

import (
	"context"
	"fmt"
	"testing"

	"github.com/lockdhq/lockd/store"
)

// Records flushed to tables carry bloom filters: a conditional create of
// keys that were never written is answered by the filters (hits), not by
// searching the tables' index blocks, and the creates still succeed.
func TestAbsentKeysAreAnsweredByBloomFilters(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for i := range 2000 {
		_, d, err := s.Apply(ctx, []store.Op{{Key: fmt.Sprintf("present/%05d", i), Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	before := s.db.Metrics().Filter
	for i := range 200 { // absent keys inside the tables' key range
		_, d, err := s.Apply(ctx, []store.Op{{Key: fmt.Sprintf("present/%05d-absent", i*7), Value: []byte("v"), Cond: store.Cond{IfNotExists: true}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	after := s.db.Metrics().Filter
	if hits := after.Hits - before.Hits; hits < 150 {
		t.Fatalf("bloom filter hits for 200 absent keys: %d (misses %d)", hits, after.Misses-before.Misses)
	}
}
