package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// Status is the controller's state, what tripped it and the last sample.
type Status struct {
	State    State
	Reason   Reason
	Since    time.Time
	Snapshot Snapshot
}

// Controller is the QRF: it holds the Core under a mutex, counts requests
// in flight and being paced, and decides each request. Create it with
// New; it is safe for concurrent use.
type Controller struct {
	cfg   Config
	clock clock.Clock
	log   zerolog.Logger

	mu   sync.Mutex
	core Core
	last Snapshot

	// posture mirrors core for the lock-free hot path.
	posture atomic.Pointer[posture]

	inflight [numKinds]atomic.Int64
	waiting  [numKinds]atomic.Int64
}

type posture struct {
	state State
	why   Reason
}

// New returns a controller for cfg (normalized: zero timings take their
// defaults). A nil clock is the wall clock.
func New(cfg Config, clk clock.Clock, log zerolog.Logger) *Controller {
	if clk == nil {
		clk = clock.Real{}
	}
	c := &Controller{cfg: cfg.normalized(), clock: clk, log: log.With().Str("sys", "control.qrf.controller").Logger()}
	c.posture.Store(&posture{})
	if c.cfg.Enabled {
		publishState(Disengaged)
	}
	return c
}

// Config returns the normalized configuration.
func (c *Controller) Config() Config { return c.cfg }

// Enabled reports whether admission control is on.
func (c *Controller) Enabled() bool { return c.cfg.Enabled }

// Observe applies one LSF sample (or a forced one, in tests) and logs a
// change of posture as lockd.qrf.<state>.
func (c *Controller) Observe(s Snapshot) {
	if !c.cfg.Enabled {
		return
	}
	c.mu.Lock()
	c.last = s
	t, changed := c.core.Observe(&c.cfg, s)
	if changed {
		c.posture.Store(&posture{state: c.core.State, why: c.core.Reason})
	}
	c.mu.Unlock()
	publishSample(s)
	if changed {
		publishState(t.To)
		transitions[t.To].Inc()
		ev := c.log.Info()
		if t.To == Engaged {
			ev = c.log.Warn()
		}
		ev.Str("event", "lockd.qrf."+t.To.String()).Str("previous_state", t.From.String()).
			Str("reason", t.Reason.Name).Float64("system_memory_percent", s.MemoryUsedPercent).
			Float64("system_cpu_percent", s.CPUPercent).Float64("load1_multiplier", s.Load1Multiplier).
			Uint64("rss_bytes", s.RSSBytes).Int64("lock_inflight", s.Inflight.Lock).
			Int64("queue_inflight", s.Inflight.Queue()).Int64("query_inflight", s.Inflight.Query).
			Msg("qrf " + t.To.String())
	}
}

// State returns the current posture.
func (c *Controller) State() State { return c.posture.Load().state }

// Status returns the posture, its reason and the last sample.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{State: c.core.State, Reason: c.core.Reason, Since: c.core.Since, Snapshot: c.last}
}

// Inflight returns the live in-flight counts.
func (c *Controller) Inflight() Inflight {
	return Inflight{
		QueueProducer: c.inflight[KindQueueProducer].Load(),
		QueueConsumer: c.inflight[KindQueueConsumer].Load(),
		QueueAck:      c.inflight[KindQueueAck].Load(),
		Lock:          c.inflight[KindLock].Load(),
		Query:         c.inflight[KindQuery].Load(),
	}
}

// Decide decides one request of class cls that may spend budget more
// (0: no deadline); see the package function Decide.
func (c *Controller) Decide(cls Class, budget time.Duration) Decision {
	p := c.posture.Load()
	if !c.cfg.Enabled {
		return Decision{State: p.state}
	}
	var d Decision
	if cls.Kind < numKinds {
		d = Decide(&c.cfg, p.state, p.why, cls, c.Inflight(), c.waiting[cls.Kind].Load(), budget)
	}
	countDecision(cls.Kind, d)
	return d
}

// Pace waits d for a request of kind k, counted as waiting meanwhile; it
// returns early with ctx's error.
func (c *Controller) Pace(ctx context.Context, k Kind, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	w := &c.waiting[min(k, numKinds-1)]
	w.Add(1)
	defer w.Add(-1)
	start := c.clock.Now()
	done := make(chan struct{})
	t := c.clock.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-done:
		pacingWaits.Update(c.clock.Now().Sub(start).Seconds())
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Begin counts a request of kind k in flight; End uncounts it.
func (c *Controller) Begin(k Kind) {
	if k != KindNone && k < numKinds {
		c.inflight[k].Add(1)
	}
}

// End ends what Begin counted.
func (c *Controller) End(k Kind) {
	if k != KindNone && k < numKinds {
		c.inflight[k].Add(-1)
	}
}
