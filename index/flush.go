package index

import (
	"context"
	"time"
)

// asyncFlushTimeout bounds a background flush.
const asyncFlushTimeout = 2 * time.Minute

// Flush waits until every commit observed before the call is indexed and
// any reconcile of ns has finished (building the index of a dormant
// namespace first), so a query that follows sees every
// commit acknowledged before Flush was called. It returns the
// namespace's index sequence.
func (s *Service) Flush(ctx context.Context, ns string) (uint64, error) {
	if s.opt.Disabled {
		return 0, nil
	}
	ch := make(chan struct{})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	sp := s.spaceLocked(ns)
	dormant := sp.dormant
	sp.wakeLocked()
	s.queue = append(s.queue, item{ns: ns, barrier: ch})
	s.mu.Unlock()
	s.signal()
	if dormant {
		s.woke(ns)
	}
	select {
	case <-ch:
		seq, _ := s.Status(ns)
		return seq, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, ErrClosed
	}
}

// FlushAsync starts a flush of ns in the background and reports whether
// work was pending. Only one asynchronous flush per namespace runs at a
// time; another one is refused with ErrFlushBusy.
func (s *Service) FlushAsync(ns string) (bool, error) {
	_, pending := s.Status(ns)
	s.mu.Lock()
	sp := s.spaceLocked(ns)
	if sp.asyncFlush {
		s.mu.Unlock()
		return pending, ErrFlushBusy
	}
	sp.asyncFlush = true
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), asyncFlushTimeout)
		defer cancel()
		if _, err := s.Flush(ctx, ns); err != nil {
			s.log.Warn().Err(err).Str("namespace", ns).Msg("index: async flush failed")
		}
		s.mu.Lock()
		sp.asyncFlush = false
		s.mu.Unlock()
	}()
	return pending, nil
}
