package admission

import (
	"math"
	"time"
)

// Decision is what to do with one request.
type Decision struct {
	// State is the posture to report in X-Lockd-QRF-State: the
	// controller's state, or engaged when a hard in-flight guard of the
	// request's kind is crossed right now.
	State State
	// Delay is how long to pace the request before serving it; 0 admits
	// it at once.
	Delay time.Duration
	// Throttle refuses the request: 429 throttled with RetryAfter.
	Throttle   bool
	RetryAfter time.Duration
	// Reason names the limit that paced or refused the request.
	Reason string
}

// Decide decides one request of class cls, given the controller's state
// and reason, the requests in flight now (live counts, not the last
// sample: a hard guard acts at once), the requests of the same kind being
// paced already, and budget, the time the request may still spend (its
// deadline). The delay is base(state) × (1 + waiting): each request that
// queues behind others waits one base delay longer, so a burst is spread
// out, and once the queue is MaxWait deep the excess is refused at once
// rather than held.
func Decide(cfg *Config, state State, why Reason, cls Class, live Inflight, waiting int64, budget time.Duration) Decision {
	if !cfg.Enabled || cls.Kind == KindNone || cls.Drain {
		return Decision{State: state}
	}
	posture, reason := state, why.Name
	if name, ok := hardGuard(cfg, cls.Kind, live); ok {
		posture, reason = Engaged, name
	} else if state == Disengaged || !targets(cfg, why, cls.Kind, live) {
		return Decision{State: state}
	}
	d := Decision{State: posture, Reason: reason}
	base := baseDelay(cfg, posture)
	d.Delay = base * time.Duration(1+max(waiting, 0))
	limit := cfg.MaxWait
	if budget > 0 && budget < limit {
		limit = budget
	}
	if d.Delay > limit {
		d.Throttle, d.RetryAfter = true, roundUpSeconds(d.Delay)
		d.Delay = 0
	}
	return d
}

// hardGuard reports whether kind k's in-flight guard is at its hard
// limit now.
func hardGuard(cfg *Config, k Kind, live Inflight) (string, bool) {
	switch {
	case k == KindQueueProducer && cfg.QueueHardLimit > 0 && live.Queue() >= cfg.QueueHardLimit:
		return "queue_inflight_hard", true
	case k == KindQueueConsumer && cfg.QueueConsumerHardLimit > 0 && live.QueueConsumer >= cfg.QueueConsumerHardLimit:
		return "queue_consumer_hard", true
	case k == KindLock && cfg.LockHardLimit > 0 && live.Lock >= cfg.LockHardLimit:
		return "lock_inflight_hard", true
	case k == KindQuery && cfg.QueryHardLimit > 0 && live.Query >= cfg.QueryHardLimit:
		return "query_inflight_hard", true
	}
	return "", false
}

// targets reports whether the posture paces kind k. An in-flight guard
// paces the kind it guards; host-wide pressure paces producers, lock and
// query work (never consumers: they drain the queues) while more than the
// pacing floor of that kind is in flight.
func targets(cfg *Config, why Reason, k Kind, live Inflight) bool {
	if !why.Host() {
		return k == why.Guard
	}
	switch k {
	case KindQueueProducer, KindLock, KindQuery:
		return live.Of(k) >= cfg.PacingFloor
	}
	return false
}

func baseDelay(cfg *Config, s State) time.Duration {
	switch s {
	case SoftArm:
		return cfg.SoftDelay
	case Recovery:
		return cfg.RecoveryDelay
	}
	return cfg.EngagedDelay
}

// roundUpSeconds is d in whole seconds, at least one: Retry-After is
// given in seconds.
func roundUpSeconds(d time.Duration) time.Duration {
	return time.Duration(max(1, math.Ceil(d.Seconds()))) * time.Second
}
