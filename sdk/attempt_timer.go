package sdk

import (
	"io"
	"sync"
	"time"
)

// attemptTimer bounds one attempt. For a streamed request body it starts
// only once the body has been read to its end, so that a body that is
// produced slowly (an upload fed piece by piece) is not cut off: the
// timeout bounds the wait for the answer, not the caller's pace.
type attemptTimer struct {
	d    time.Duration
	fire func()

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func newAttemptTimer(d time.Duration, fire func()) *attemptTimer {
	return &attemptTimer{d: d, fire: fire}
}

// start arms the timer once; it does nothing after stop.
func (a *attemptTimer) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t == nil && !a.stopped {
		a.t = time.AfterFunc(a.d, a.fire)
	}
}

// stop disarms the timer for good.
func (a *attemptTimer) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	if a.t != nil {
		a.t.Stop()
	}
}

// startAtEOF wraps a streamed body so that reaching its end starts t.
type startAtEOF struct {
	r io.Reader
	t *attemptTimer
}

func (s *startAtEOF) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.t.start()
	}
	return n, err
}

func (s *startAtEOF) Close() error {
	if c, ok := s.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
