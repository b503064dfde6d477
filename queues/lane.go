package queues

import (
	"container/heap"
	"slices"
	"strings"
	"time"
)

// place is where a message sits in its lane.
type place uint8

const (
	gone     place = iota // removed (acked, moved to the other lane)
	ready                 // visible now, waiting for a consumer
	delayed               // not visible before rec.VisibleAt
	inflight              // delivered; visible again at rec.Lease.Expires
)

// entry is one message in memory: its record, the record's ETag and its
// position in the lane's indexes.
type entry struct {
	rec   record
	etag  string // store ETag of the record; "" until first written
	seq   uint64 // arrival order in the lane
	gen   uint64 // bumped on every move; heap items of older gens are stale
	where place
	// sub is the subscription this delivery counts against (prefetch).
	sub *consumer
	// cold means rec.Inline is not held in memory (the actor's inline
	// budget was spent): it is read back from the store when needed.
	cold bool
}

// item is a heap element; key is the seq (ready) or a deadline (timed).
type item struct {
	e   *entry
	gen uint64
	key int64
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].key != h[j].key {
		return h[i].key < h[j].key
	}
	return h[i].e.seq < h[j].e.seq
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*h = old[:len(old)-1]
	return it
}

// top returns the first live item, dropping stale ones.
func (h *itemHeap) top() (item, bool) {
	for h.Len() > 0 {
		it := (*h)[0]
		if it.e.gen == it.gen {
			return it, true
		}
		heap.Pop(h)
	}
	return item{}, false
}

// lane is one ordered set of messages: a queue, or its DLQ. It indexes
// ready messages by arrival and the others by their next deadline.
type lane struct {
	dead    bool
	msgs    map[string]*entry
	ready   itemHeap
	timed   itemHeap
	nextSeq uint64
	count   [4]int // messages per place
}

func newLane(dead bool) *lane { return &lane{dead: dead, msgs: map[string]*entry{}} }

// insert adds e at the end of the lane's arrival order.
func (l *lane) insert(e *entry, now time.Time) {
	l.nextSeq++
	e.seq = l.nextSeq
	l.msgs[e.rec.ID] = e
	l.set(e, now)
}

// set (re)indexes e from its record: in flight while leased, delayed until
// VisibleAt, ready otherwise.
func (l *lane) set(e *entry, now time.Time) {
	if e.where != gone {
		l.count[e.where]--
	}
	e.gen++
	switch {
	case e.rec.Lease != nil:
		e.where = inflight
		heap.Push(&l.timed, item{e: e, gen: e.gen, key: e.rec.Lease.Expires})
	case e.rec.VisibleAt > now.UnixNano():
		e.where = delayed
		heap.Push(&l.timed, item{e: e, gen: e.gen, key: e.rec.VisibleAt})
	default:
		e.where = ready
		heap.Push(&l.ready, item{e: e, gen: e.gen, key: int64(e.seq)})
	}
	l.count[e.where]++
	l.compact()
}

// drop removes e from the lane.
func (l *lane) drop(e *entry) {
	if e.where != gone {
		l.count[e.where]--
	}
	e.gen++
	e.where = gone
	delete(l.msgs, e.rec.ID)
}

// head returns the oldest ready message without removing it.
func (l *lane) head() *entry {
	if it, ok := l.ready.top(); ok {
		return it.e
	}
	return nil
}

// nextDeadline is the earliest delay end or visibility deadline.
func (l *lane) nextDeadline() (int64, bool) {
	it, ok := l.timed.top()
	return it.key, ok
}

// popDue returns a message whose deadline is at or before now, or nil. The
// caller must set or drop it.
func (l *lane) popDue(now time.Time) *entry {
	it, ok := l.timed.top()
	if !ok || it.key > now.UnixNano() {
		return nil
	}
	heap.Pop(&l.timed)
	return it.e
}

func (l *lane) readyN() int    { return l.count[ready] }
func (l *lane) delayedN() int  { return l.count[delayed] }
func (l *lane) inflightN() int { return l.count[inflight] }

// compact rebuilds a heap once stale items dominate it, so repeated
// extends cannot grow it without bound.
func (l *lane) compact() {
	for _, h := range []*itemHeap{&l.ready, &l.timed} {
		if h.Len() < 64 || h.Len() < 2*len(l.msgs) {
			continue
		}
		live := (*h)[:0]
		for _, it := range *h {
			if it.e.gen == it.gen {
				live = append(live, it)
			}
		}
		clear((*h)[len(live):])
		*h = live
		heap.Init(h)
	}
}

// sorted returns the lane's messages by id, which is enqueue order.
func (l *lane) sorted() []*entry {
	out := make([]*entry, 0, len(l.msgs))
	for _, e := range l.msgs {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.rec.ID, b.rec.ID) })
	return out
}
