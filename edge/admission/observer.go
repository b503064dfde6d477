package admission

import (
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// Observer is the LSF: every Config.SampleInterval it reads the host
// through its Source, adds the controller's in-flight counts and feeds
// the snapshot to the controller. Start it once; Stop ends it.
type Observer struct {
	src   Source
	ctrl  *Controller
	clock clock.Clock
	log   zerolog.Logger

	mu      sync.Mutex
	st      lsfState
	timer   clock.Timer
	stopped bool
	lastLog time.Time
	failing bool
}

// NewObserver returns an observer feeding ctrl from src (nil: ProcFS).
func NewObserver(src Source, ctrl *Controller, log zerolog.Logger) *Observer {
	if src == nil {
		src = ProcFS{}
	}
	return &Observer{src: src, ctrl: ctrl, clock: ctrl.clock, log: log.With().Str("sys", "control.lsf.observer").Logger()}
}

// Start takes a first sample and schedules the next ones; it does nothing
// when the controller is disabled.
func (o *Observer) Start() {
	if !o.ctrl.Enabled() {
		return
	}
	o.tick()
}

func (o *Observer) tick() {
	o.Sample()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.stopped {
		o.timer = o.clock.AfterFunc(o.ctrl.cfg.SampleInterval, o.tick)
	}
}

// Stop ends sampling; a sample in progress completes.
func (o *Observer) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = true
	if o.timer != nil {
		o.timer.Stop()
	}
}

// Sample reads the host once and feeds the controller. A failed read is
// counted and logged once until reads succeed again; the controller keeps
// its posture.
func (o *Observer) Sample() {
	h, err := o.src.Read()
	now := o.clock.Now()
	o.mu.Lock()
	if err != nil {
		first := !o.failing
		o.failing = true
		o.mu.Unlock()
		lsfFailures.Inc()
		if first {
			o.log.Warn().Err(err).Msg("lsf sample failed; host pressure is not watched until it succeeds")
		}
		return
	}
	o.failing = false
	s := o.st.derive(h, o.ctrl.Inflight(), now)
	logIt := o.ctrl.cfg.LogInterval > 0 && (o.lastLog.IsZero() || now.Sub(o.lastLog) >= o.ctrl.cfg.LogInterval)
	if logIt {
		o.lastLog = now
	}
	o.mu.Unlock()
	if logIt {
		o.log.Debug().Str("event", "lockd.lsf.sample").Float64("system_memory_percent", s.MemoryUsedPercent).
			Float64("system_swap_percent", s.SwapUsedPercent).Float64("system_cpu_percent", s.CPUPercent).
			Float64("system_load1", s.Load1).Float64("load1_baseline", s.Load1Baseline).
			Float64("load1_multiplier", s.Load1Multiplier).Uint64("rss_bytes", s.RSSBytes).
			Int64("lock_inflight", s.Inflight.Lock).Int64("queue_inflight", s.Inflight.Queue()).
			Int64("query_inflight", s.Inflight.Query).Int("goroutines", s.Goroutines).Msg("lsf sample")
	}
	o.ctrl.Observe(s)
}
