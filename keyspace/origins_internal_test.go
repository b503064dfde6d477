package keyspace

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// The table's memory follows its live entries: 100k origins whose leases
// ended are pruned, and the map and heap give their memory back.
func TestOriginTableMemory(t *testing.T) {
	const n = 100_000
	now := time.Unix(1_800_000_000, 0)
	tab := newOriginTable()
	base := heapInUse()
	for i := range n {
		tab.put(fmt.Sprintf("txn-%08d", i), Ref{Namespace: "default", Key: fmt.Sprintf("k/%08d", i)},
			now.Add(10*time.Second+time.Duration(i)), now, false)
	}
	peak := heapInUse()
	if tab.size() != n {
		t.Fatalf("size %d", tab.size())
	}
	tab.prune(now.Add(5 * time.Second)) // nothing ended yet
	if tab.size() != n {
		t.Fatalf("pruned live entries: %d left", tab.size())
	}
	tab.prune(now.Add(time.Minute))
	after := heapInUse()
	grown, kept := peak-base, after-base
	t.Logf("origin table: %d KB for %d entries, %d KB after they expired", grown>>10, n, kept>>10)
	if tab.size() != 0 {
		t.Fatalf("%d expired entries kept", tab.size())
	}
	if kept > grown/20 {
		t.Fatalf("the table keeps %d KB of its %d KB after every entry expired", kept>>10, grown>>10)
	}
	runtime.KeepAlive(tab)
}

func TestOriginTableRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := Ref{Namespace: "n", Key: "a"}, Ref{Namespace: "n", Key: "b"}
	tab := newOriginTable()
	tab.put("t1", a, now.Add(10*time.Second), now, false)
	tab.put("t1", b, now.Add(10*time.Second), now, true) // onlyNew: a stays
	if r, ok := tab.lookup("t1", now); !ok || r != a {
		t.Fatalf("lookup %v %v", r, ok)
	}
	tab.drop("t1", b) // not its origin: ignored
	tab.extend("t1", b, now.Add(time.Hour))
	if _, ok := tab.lookup("t1", now.Add(11*time.Second)); ok {
		t.Fatal("another key extended the origin")
	}
	tab.extend("t1", a, now.Add(time.Minute))
	tab.prune(now.Add(30 * time.Second))
	if r, ok := tab.lookup("t1", now.Add(30*time.Second)); !ok || r != a {
		t.Fatalf("extended origin: %v %v", r, ok)
	}
	tab.put("t2", b, now.Add(time.Hour), now, false)
	tab.drop("t1", a)
	if _, ok := tab.lookup("t1", now); ok || tab.size() != 1 {
		t.Fatalf("dropped origin still known; size %d", tab.size())
	}
	// An insert prunes its shard; a lookup never returns an ended lease.
	if _, ok := tab.lookup("t2", now.Add(2*time.Hour)); ok {
		t.Fatal("lookup returned an ended lease")
	}
}
