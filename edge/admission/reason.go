package admission

// Reason is what tripped the QRF: a metric and level, and the kind of
// request it targets.
type Reason struct {
	// Name is the log and metric label, e.g. "lock_inflight_hard",
	// "memory_soft", "cpu_hard", "recovering".
	Name string
	// Guard is the kind an in-flight guard protects (the queue guard
	// targets producers); KindNone for host-wide pressure, which targets
	// producers, lock and query work above the pacing floor.
	Guard Kind
}

// Host reports whether the reason is host-wide pressure.
func (r Reason) Host() bool { return r.Guard == KindNone }

// breach is one limit check: value against soft and hard, each 0 = off.
type breach struct {
	name        string
	guard       Kind
	value       float64
	soft, hard  float64
	healthyFrac float64 // healthy at or below soft × this
}

// recovery fractions: an in-flight guard is healthy at half its soft
// limit, a host metric at 90% of it, so that the state does not flap at
// the threshold.
const (
	inflightHealthy = 0.5
	hostHealthy     = 0.9
)

// breaches lists the checks of s under cfg, in-flight guards first (they
// name the kind to target), then host-wide metrics.
func breaches(cfg *Config, s Snapshot) []breach {
	in := s.Inflight
	return []breach{
		{"queue_inflight", KindQueueProducer, float64(in.Queue()), float64(cfg.QueueSoftLimit), float64(cfg.QueueHardLimit), inflightHealthy},
		{"queue_consumer", KindQueueConsumer, float64(in.QueueConsumer), float64(cfg.QueueConsumerSoftLimit), float64(cfg.QueueConsumerHardLimit), inflightHealthy},
		{"lock_inflight", KindLock, float64(in.Lock), float64(cfg.LockSoftLimit), float64(cfg.LockHardLimit), inflightHealthy},
		{"query_inflight", KindQuery, float64(in.Query), float64(cfg.QuerySoftLimit), float64(cfg.QueryHardLimit), inflightHealthy},
		{"memory", KindNone, s.effectiveMemoryPercent(cfg), cfg.MemorySoftLimitPercent, cfg.MemoryHardLimitPercent, hostHealthy},
		{"memory", KindNone, float64(s.RSSBytes), float64(cfg.MemorySoftLimitBytes), float64(cfg.MemoryHardLimitBytes), hostHealthy},
		{"swap", KindNone, s.SwapUsedPercent, cfg.SwapSoftLimitPercent, cfg.SwapHardLimitPercent, hostHealthy},
		{"swap", KindNone, float64(s.SwapBytes), float64(cfg.SwapSoftLimitBytes), float64(cfg.SwapHardLimitBytes), hostHealthy},
		{"cpu", KindNone, s.CPUPercent, cfg.CPUPercentSoftLimit, cfg.CPUPercentHardLimit, hostHealthy},
		{"load", KindNone, s.Load1Multiplier, cfg.LoadSoftLimitMultiplier, cfg.LoadHardLimitMultiplier, hostHealthy},
	}
}

// Assess grades one sample: the worst level reached, the first reason
// at that level, and whether every metric is back in its healthy band.
func Assess(cfg *Config, s Snapshot) (Level, Reason, bool) {
	level, why, healthy := Clear, Reason{}, true
	for _, b := range breaches(cfg, s) {
		switch {
		case b.hard > 0 && b.value >= b.hard:
			if level < Hard {
				level, why = Hard, Reason{Name: b.name + "_hard", Guard: b.guard}
			}
		case b.soft > 0 && b.value >= b.soft:
			if level < Soft {
				level, why = Soft, Reason{Name: b.name + "_soft", Guard: b.guard}
			}
		}
		if b.soft > 0 && b.value > b.soft*b.healthyFrac {
			healthy = false
		}
	}
	return level, why, healthy
}
