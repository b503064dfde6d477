package index

import (
	"context"
	"sort"
	"time"
)

// batchEvents bounds the commits indexed in one store batch.
const batchEvents = 256

// indexerTimeout bounds one store round trip of the indexer.
const indexerTimeout = time.Minute

// run is the indexer goroutine: it applies queued commits in order,
// resolves flush barriers and advances reconcile passes one chunk at a
// time between batches, so commits are never starved by a rebuild.
func (s *Service) run() {
	defer close(s.done)
	for {
		items, closing := s.take()
		if len(items) > 0 {
			s.applyItems(items)
			continue
		}
		if closing {
			return
		}
		if s.reconcileStep() {
			continue
		}
		<-s.wake
	}
}

// take removes up to batchEvents queued items.
func (s *Service) take() ([]item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.queue), batchEvents)
	items := make([]item, n)
	copy(items, s.queue)
	clear(s.queue[:n])
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil // let the backing array go
	}
	for _, it := range items {
		s.qBytes -= int64(len(it.ev.Doc))
	}
	return items, s.closing
}

// applyItems indexes the commits of a batch per namespace (the last
// commit of a key wins; commits of a key arrive in order), then answers
// the barriers, which were queued after every commit before them.
func (s *Service) applyItems(items []item) {
	byNS := map[string]map[string]item{}
	var order []string
	var barriers []item
	for _, it := range items {
		if it.barrier != nil {
			barriers = append(barriers, it)
			continue
		}
		m := byNS[it.ns]
		if m == nil {
			m = map[string]item{}
			byNS[it.ns] = m
			order = append(order, it.ns)
		}
		m[it.ev.Key] = it
		s.mu.Lock()
		s.spaceLocked(it.ns).pending--
		s.mu.Unlock()
	}
	for _, ns := range order {
		keys := make([]string, 0, len(byNS[ns]))
		for k := range byNS[ns] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		evs := make([]item, len(keys))
		for i, k := range keys {
			evs[i] = byNS[ns][k]
		}
		s.applyCommits(ns, evs)
	}
	s.mu.Lock()
	for _, b := range barriers {
		sp := s.spaceLocked(b.ns)
		if sp.ready() {
			close(b.barrier)
		} else {
			sp.waiters = append(sp.waiters, b.barrier)
		}
	}
	s.mu.Unlock()
}

// applyCommits writes the index changes of one namespace's commits; on
// failure the namespace is marked stale so a reconcile repairs it.
func (s *Service) applyCommits(ns string, evs []item) {
	ctx, cancel := context.WithTimeout(context.Background(), indexerTimeout)
	defer cancel()
	var ops []opList
	for _, it := range evs {
		want, err := s.commitState(ctx, it)
		if err != nil {
			s.markStale(ns, err)
			continue
		}
		op, err := s.diff(ctx, ns, it.ev.Key, want)
		if err != nil {
			s.markStale(ns, err)
			return
		}
		ops = append(ops, op)
	}
	s.mu.Lock()
	sp := s.spaceLocked(ns)
	sp.seq += uint64(len(evs))
	seq := sp.seq
	s.mu.Unlock()
	if err := s.write(ctx, ns, ops, seq); err != nil {
		s.markStale(ns, err)
	}
}

// markStale schedules a reconcile pass of ns after an indexing failure.
func (s *Service) markStale(ns string, err error) {
	s.log.Warn().Err(err).Str("namespace", ns).Msg("index: reconciling namespace after failure")
	s.mu.Lock()
	s.spaceLocked(ns).stale = true
	s.mu.Unlock()
}
