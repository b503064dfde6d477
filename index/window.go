package index

import (
	"container/heap"
	"sort"
)

// keyWindow keeps the smallest w distinct keys greater than after that
// it is offered, in O(w) memory.
type keyWindow struct {
	w       int
	after   string
	h       maxHeap
	in      map[string]struct{}
	dropped bool // a key greater than the window's largest was refused or evicted
}

func newKeyWindow(w int, after string) *keyWindow {
	return &keyWindow{w: w, after: after, in: make(map[string]struct{}, w)}
}

// offer considers k and reports whether larger keys could still enter
// (false once the window is full and k did not fit).
func (kw *keyWindow) offer(k string) bool {
	if k <= kw.after && kw.after != "" {
		return true
	}
	if _, ok := kw.in[k]; ok {
		return true
	}
	if len(kw.h) < kw.w {
		heap.Push(&kw.h, k)
		kw.in[k] = struct{}{}
		return true
	}
	kw.dropped = true
	if k >= kw.h[0] {
		return false
	}
	delete(kw.in, heap.Pop(&kw.h).(string))
	heap.Push(&kw.h, k)
	kw.in[k] = struct{}{}
	return true
}

func (kw *keyWindow) sorted() []string {
	out := append([]string(nil), kw.h...)
	sort.Strings(out)
	return out
}

type maxHeap []string

func (h maxHeap) Len() int           { return len(h) }
func (h maxHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h maxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *maxHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
