package actors

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Workers run what they are handed, are reused while busy, and exit once
// idle.
func TestPoolDispatcherWorkersExitWhenIdle(t *testing.T) {
	before := runtime.NumGoroutine()
	d := newPoolDispatcher(1, 20*time.Millisecond)
	var wg sync.WaitGroup
	for round := 0; round < 5; round++ { // reused across rounds closer than idle
		for i := 0; i < 16; i++ {
			wg.Add(1)
			d.Schedule(func() { time.Sleep(time.Millisecond); wg.Done() })
		}
		wg.Wait()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after the workers went idle", before, runtime.NumGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
