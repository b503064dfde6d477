package testservers

import (
	"sync"
	"testing"
)

// shared is one server process used by all tests that overlap in time.
type shared struct {
	start func() (*proc, error)

	mu   sync.Mutex
	refs int
	p    *proc
}

// acquire returns the running server, starting it if needed, and releases
// it when t ends; the last release stops the process.
func (s *shared) acquire(t testing.TB) *proc {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		p, err := s.start()
		if err != nil {
			t.Fatal(err)
		}
		s.p = p
	}
	s.refs++
	t.Cleanup(s.release)
	return s.p
}

func (s *shared) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs--; s.refs == 0 {
		s.p.stop()
		s.p = nil
	}
}
