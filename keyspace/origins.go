package keyspace

import (
	"container/heap"
	"hash/maphash"
	"sync"
	"time"
)

// originTable remembers which key minted each transaction, for as long as
// that key's lease lives: a key that joins the transaction later enlists
// its origin. Memory follows the live leases, not the keys ever touched:
// an entry leaves when its lease is released or applied, and when it
// expires, even on a key whose actor sleeps (prune runs at every insert
// into a shard and at each registry tick). Shards rebuild their maps once
// most entries are gone, since Go maps keep their buckets after deletes.
// It is safe for concurrent use.
type originTable struct {
	seed   maphash.Seed
	shards [16]originShard
}

// originShard is one lock's worth of the table: entries by transaction id
// and a min-heap of the same entries by lease expiry.
type originShard struct {
	mu    sync.Mutex
	byTxn map[string]*origin
	heap  originHeap
	// peak is the most entries the shard held since its map was rebuilt.
	peak int
}

// origin is the minting key of one transaction and when its lease ends.
type origin struct {
	txn     string
	ref     Ref
	expires int64 // unix ns
	at      int   // index in the heap
}

func newOriginTable() *originTable {
	t := &originTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].byTxn = map[string]*origin{}
	}
	return t
}

func (t *originTable) shard(txn string) *originShard {
	return &t.shards[maphash.String(t.seed, txn)%uint64(len(t.shards))]
}

// put records ref as the origin of txn until expires (replacing an earlier
// entry unless onlyNew), pruning what expired by now.
func (t *originTable) put(txn string, ref Ref, expires, now time.Time, onlyNew bool) {
	s := t.shard(txn)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now.UnixNano())
	if o, ok := s.byTxn[txn]; ok {
		if !onlyNew {
			o.ref, o.expires = ref, expires.UnixNano()
			heap.Fix(&s.heap, o.at)
		}
		return
	}
	o := &origin{txn: txn, ref: ref, expires: expires.UnixNano()}
	s.byTxn[txn] = o
	heap.Push(&s.heap, o)
	s.peak = max(s.peak, len(s.byTxn))
}

// extend moves the end of ref's entry for txn (a keepalive).
func (t *originTable) extend(txn string, ref Ref, expires time.Time) {
	s := t.shard(txn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.byTxn[txn]; ok && o.ref == ref {
		o.expires = expires.UnixNano()
		heap.Fix(&s.heap, o.at)
	}
}

// drop forgets txn if ref minted it.
func (t *originTable) drop(txn string, ref Ref) {
	s := t.shard(txn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.byTxn[txn]; ok && o.ref == ref {
		heap.Remove(&s.heap, o.at)
		s.forget(o)
	}
}

// lookup returns the origin of txn if its lease is still live at now.
func (t *originTable) lookup(txn string, now time.Time) (Ref, bool) {
	s := t.shard(txn)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byTxn[txn]
	if !ok || o.expires <= now.UnixNano() {
		return Ref{}, false
	}
	return o.ref, true
}

// prune forgets every entry whose lease ended by now.
func (t *originTable) prune(now time.Time) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.prune(now.UnixNano())
		s.mu.Unlock()
	}
}

// size is how many entries the table holds.
func (t *originTable) size() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.byTxn)
		s.mu.Unlock()
	}
	return n
}

func (s *originShard) prune(now int64) {
	for len(s.heap) > 0 && s.heap[0].expires <= now {
		s.forget(heap.Pop(&s.heap).(*origin))
	}
	s.shrink()
}

func (s *originShard) forget(o *origin) {
	delete(s.byTxn, o.txn)
}

// shrink rebuilds the map and the heap once they hold a quarter of their
// peak or less, so a burst of transactions does not pin its memory.
func (s *originShard) shrink() {
	if s.peak < 256 || len(s.byTxn) > s.peak/4 {
		return
	}
	byTxn := make(map[string]*origin, len(s.byTxn))
	for k, o := range s.byTxn {
		byTxn[k] = o
	}
	s.byTxn, s.peak = byTxn, len(byTxn)
	s.heap = append(make(originHeap, 0, len(s.heap)), s.heap...)
}

// originHeap orders entries by expiry; it implements heap.Interface.
type originHeap []*origin

func (h originHeap) Len() int           { return len(h) }
func (h originHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h originHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}

func (h *originHeap) Push(x any) {
	o := x.(*origin)
	o.at = len(*h)
	*h = append(*h, o)
}

func (h *originHeap) Pop() any {
	old := *h
	o := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return o
}
