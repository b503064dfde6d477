package index

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// shared is a store without atomic batches, as S3 and Azure are: the
// index takes its several-writers path on it.
type shared struct{ store.Store }

func termsOf(v int64) []string {
	// Versions share some terms and differ in others, so that updates
	// both add and drop postings.
	return []string{"all", "mod3-" + strconv.FormatInt(v%3, 10), "v-" + strconv.FormatInt(v, 10)}
}

// Writers racing on one key, in any interleaving, leave the newest
// version's entry with every one of its postings; a late writer of an
// older version changes nothing.
func TestSeveralWritersKeepNewestPostings(t *testing.T) {
	for round := 0; round < 30; round++ {
		st := shared{mem.New()}
		s := New(nil, st, Options{})
		ctx := context.Background()
		const versions = 12
		order := rand.Perm(versions)
		var wg sync.WaitGroup
		for _, i := range order {
			v := int64(i + 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := docState{version: v, present: v%5 != 0, terms: termsOf(v)}
				if !want.present {
					want.terms = nil
				}
				if err := s.applyKey(ctx, "ns", "k", want); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		e, had, err := s.readEntry(ctx, "ns", "k")
		if err != nil || !had || e.Version != versions {
			t.Fatalf("round %d: entry %+v had %v err %v, want version %d", round, e, had, err, versions)
		}
		for _, term := range termsOf(versions) {
			if _, err := st.Get(ctx, postingKey("ns", term, "k")); err != nil {
				t.Fatalf("round %d: posting %s of the newest version lost: %v", round, term, err)
			}
		}
		// A straggler with an old version is ignored.
		if err := s.applyKey(ctx, "ns", "k", docState{version: 3, present: true, terms: []string{"stale"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, postingKey("ns", "stale", "k")); err == nil {
			t.Fatal("an older version's posting was written over a newer entry")
		}
	}
}

// A removal leaves a tombstone, so the postings of an older version
// cannot come back; the key's next version indexes again.
func TestTombstoneFencesOlderVersions(t *testing.T) {
	st := shared{mem.New()}
	s := New(nil, st, Options{})
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.applyKey(ctx, "ns", "k", docState{version: 1, present: true, terms: []string{"a"}}))
	must(s.applyKey(ctx, "ns", "k", docState{version: 2}))
	if _, err := st.Get(ctx, postingKey("ns", "a", "k")); err == nil {
		t.Fatal("posting kept after removal")
	}
	must(s.applyKey(ctx, "ns", "k", docState{version: 1, present: true, terms: []string{"a"}}))
	if _, err := st.Get(ctx, postingKey("ns", "a", "k")); err == nil {
		t.Fatal("a late writer brought an older version back")
	}
	must(s.applyKey(ctx, "ns", "k", docState{version: 3, present: true, terms: []string{"b"}}))
	if _, err := st.Get(ctx, postingKey("ns", "b", "k")); err != nil {
		t.Fatal("newer version not indexed after a tombstone")
	}
	must(s.dropKey(ctx, "ns", "k"))
	if _, had, _ := s.readEntry(ctx, "ns", "k"); had {
		t.Fatal("entry of a dropped key kept")
	}
	if _, err := st.Get(ctx, postingKey("ns", "b", "k")); err == nil {
		t.Fatal("posting of a dropped key kept")
	}
}

// Each writer keeps its own meta record; a departed writer's open record
// makes the adopter reconcile, and is deleted once that pass is done,
// while a clean one is deleted at once. Another writer's record is never
// touched unless adopted.
func TestRecoverAdoptsDepartedWriters(t *testing.T) {
	st := shared{mem.New()}
	ctx := context.Background()
	put := func(writer, state string) {
		b, _ := json.Marshal(meta{State: state})
		if _, err := st.Put(ctx, metaKey("ns")+"/"+writer, b, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	put("dead-open", "open")
	put("dead-clean", "clean")
	put("alive", "open")
	s := New(nil, st, Options{Writer: "me"})
	if err := s.openShared(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, metaKey("ns")+"/me"); err != nil {
		t.Fatalf("own meta record not written: %v", err)
	}
	if err := s.Recover(ctx, func(w string) bool { return w != "alive" }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, metaKey("ns")+"/dead-clean"); err == nil {
		t.Fatal("a departed writer's clean record was kept")
	}
	if _, err := st.Get(ctx, metaKey("ns")+"/alive"); err != nil {
		t.Fatal("a live writer's record was touched")
	}
	s.mu.Lock()
	sp := s.spaces["ns"]
	stale, orphans := sp.stale, len(sp.orphans)
	s.mu.Unlock()
	if !stale || orphans != 1 {
		t.Fatalf("open record of a departed writer: stale %v, %d orphans", stale, orphans)
	}
	s.dropOrphans(map[string]string{metaKey("ns") + "/dead-open": mustTag(t, st, metaKey("ns")+"/dead-open")})
	if _, err := st.Get(ctx, metaKey("ns")+"/dead-open"); err == nil {
		t.Fatal("adopted record not deleted after the pass")
	}
	recs, _ := s.metas(ctx, "ns")
	if fmt.Sprint(len(recs)) != "2" {
		t.Fatalf("records left: %+v", recs)
	}
}

func mustTag(t *testing.T, st store.Store, k string) string {
	rec, err := st.Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	return rec.ETag
}
