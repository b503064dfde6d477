package queues

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// The backlog gauges are maintained by the queue actors, not computed by
// a scan: at the end of every turn an actor publishes its queue's counts
// into its backlog entry, and the difference to what it published before
// goes into process-wide totals (a few atomic loads, and adds only when a
// count changed). A scrape reads the totals and walks the entries for the
// oldest message; it never touches the store.
//
// An entry outlives its actor: a passivated queue still holds its
// messages, so its counts stay in the totals. They leave them when the
// queue moves to another node (which counts them from then on) and the
// entry is dropped once no actor holds it and its queue is empty. A queue
// is counted from its first load after this process started (its first
// request); the process does not scan the store for queues at startup.

// backlog is one queue's contribution to the gauges.
type backlog struct {
	svc  *Service
	refs int // actors holding the entry; under backlogs.mu

	ready, delayed, inflight, dead atomic.Int64
	// oldest is the enqueue time (unix ns) of the oldest message ready in
	// the main lane, 0 when none is.
	oldest atomic.Int64
}

type backlogKey struct {
	svc *Service
	id  string
}

var (
	backlogs = struct {
		sync.Mutex
		m map[backlogKey]*backlog
	}{m: map[backlogKey]*backlog{}}

	totalReady, totalDelayed, totalInflight, totalDead atomic.Int64

	_ = metrics.NewGauge(`lockd_queue_messages{state="ready"}`, func() float64 { return float64(totalReady.Load()) })
	_ = metrics.NewGauge(`lockd_queue_messages{state="delayed"}`, func() float64 { return float64(totalDelayed.Load()) })
	_ = metrics.NewGauge(`lockd_queue_messages{state="in_flight"}`, func() float64 { return float64(totalInflight.Load()) })
	_ = metrics.NewGauge(`lockd_queue_messages{state="dead_letter"}`, func() float64 { return float64(totalDead.Load()) })
	_ = metrics.NewGauge(`lockd_queue_backlog`, func() float64 {
		return float64(totalReady.Load() + totalDelayed.Load() + totalInflight.Load())
	})
	_ = metrics.NewGauge(`lockd_queue_oldest_ready_age_seconds`, oldestReadyAge)
)

// holdBacklog returns the entry of the queue with actor id, creating it.
func (s *Service) holdBacklog(id string) *backlog {
	backlogs.Lock()
	defer backlogs.Unlock()
	k := backlogKey{s, id}
	b := backlogs.m[k]
	if b == nil {
		b = &backlog{svc: s}
		backlogs.m[k] = b
	}
	b.refs++
	return b
}

// releaseBacklog lets go of b; an empty entry no actor holds is dropped.
func (s *Service) releaseBacklog(id string, b *backlog) {
	backlogs.Lock()
	defer backlogs.Unlock()
	b.refs--
	if b.refs == 0 && b.ready.Load() == 0 && b.delayed.Load() == 0 && b.inflight.Load() == 0 && b.dead.Load() == 0 {
		delete(backlogs.m, backlogKey{s, id})
	}
}

// set publishes a count, adding the change to its total.
func set(v, total *atomic.Int64, n int64) {
	if v.Load() == n {
		return
	}
	total.Add(n - v.Swap(n))
}

// publish records the queue's current counts (c nil: the queue left this
// node, so it counts nothing here).
func (b *backlog) publish(c *core) {
	if c == nil {
		set(&b.ready, &totalReady, 0)
		set(&b.delayed, &totalDelayed, 0)
		set(&b.inflight, &totalInflight, 0)
		set(&b.dead, &totalDead, 0)
		b.oldest.Store(0)
		return
	}
	m := c.main
	set(&b.ready, &totalReady, int64(m.readyN()))
	set(&b.delayed, &totalDelayed, int64(m.delayedN()))
	set(&b.inflight, &totalInflight, int64(m.inflightN()))
	set(&b.dead, &totalDead, int64(len(c.dlq.msgs)))
	var oldest int64
	if e := m.head(); e != nil {
		oldest = e.rec.EnqueuedAt
	}
	if b.oldest.Load() != oldest {
		b.oldest.Store(oldest)
	}
}

// oldestReadyAge is the age in seconds of the oldest message waiting for a
// consumer in any queue of the process (0 when none waits).
func oldestReadyAge() float64 {
	backlogs.Lock()
	defer backlogs.Unlock()
	var first int64 = math.MaxInt64
	var svc *Service
	for _, b := range backlogs.m {
		if o := b.oldest.Load(); o > 0 && o < first {
			first, svc = o, b.svc
		}
	}
	if svc == nil {
		return 0
	}
	return max(0, float64(svc.clock.Now().UnixNano()-first)/1e9)
}
