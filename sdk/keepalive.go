package sdk

import (
	"errors"
	"time"
)

// startKeepAlive runs the background keepalive: every half TTL, and more
// often after a failure, until the session ends or the lease is lost.
func (s *LeaseSession) startKeepAlive() {
	s.mu.Lock()
	s.stopKA, s.kaDone = make(chan struct{}), make(chan struct{})
	stop, done := s.stopKA, s.kaDone
	s.mu.Unlock()
	go s.keepAliveLoop(stop, done)
}

// stopKeepAlive stops the loop and waits for it (at most one keepalive
// request, bounded by the keepalive timeout).
func (s *LeaseSession) stopKeepAlive() {
	s.mu.Lock()
	stop, done := s.stopKA, s.kaDone
	s.stopKA = nil
	s.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

func (s *LeaseSession) keepAliveLoop(stop, done chan struct{}) {
	defer close(done)
	interval := max(s.ttl()/2, 500*time.Millisecond)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.lost.Done():
			return
		case <-t.C:
		}
		ctx, cancel := s.c.timeoutCtx(s.c.cfg.keepAliveTimeout)
		_, err := s.KeepAlive(ctx, 0)
		cancel()
		switch {
		case err == nil:
			t.Reset(interval)
		case errors.Is(err, ErrSessionClosed):
			return
		case isLeaseGone(err) || time.Now().After(s.ExpiresAt()):
			s.c.cfg.logger.Debug("lockd: lease lost", "key", s.Key, "lease_id", s.LeaseID, "err", err)
			s.lose(err)
			return
		default:
			s.c.cfg.logger.Debug("lockd: keepalive failed; retrying", "key", s.Key, "err", err)
			t.Reset(max(interval/4, 250*time.Millisecond))
		}
	}
}
