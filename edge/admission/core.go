package admission

import "time"

// Core is the QRF state machine, a pure value: Observe takes one sample
// and moves the posture. It does no I/O and reads no clock (the sample
// carries its time).
//
//	sample       disengaged   soft_arm     engaged      recovery
//	hard         engaged      engaged      engaged      engaged
//	soft         soft_arm     soft_arm     engaged      soft_arm
//	healthy ×N   disengaged   disengaged   recovery     disengaged
//
// "healthy ×N" is Config.RecoverySamples healthy samples in a row; a
// sample below the soft limits but not yet healthy (the hysteresis band)
// keeps the state and restarts the count.
type Core struct {
	// State is the current posture.
	State State
	// Reason is what tripped it; during recovery it keeps the trip's
	// guard, so that recovery paces the kinds the trip paced.
	Reason Reason
	// Since is the time of the sample that entered State.
	Since time.Time
	// healthy counts healthy samples in a row.
	healthy int
}

// Transition is a change of posture.
type Transition struct {
	From, To State
	Reason   Reason
	At       time.Time
}

// Observe applies sample s and reports the transition it caused, if any.
func (c *Core) Observe(cfg *Config, s Snapshot) (Transition, bool) {
	level, why, healthy := Assess(cfg, s)
	prev := c.State
	switch {
	case level == Hard:
		c.healthy = 0
		c.State, c.Reason = Engaged, why
	case level == Soft:
		c.healthy = 0
		if c.State != Engaged {
			c.State, c.Reason = SoftArm, why
		}
	case !healthy:
		c.healthy = 0
	default:
		c.healthy++
		if c.healthy >= cfg.RecoverySamples && c.State != Disengaged {
			c.healthy = 0
			if c.State == Engaged {
				c.State = Recovery
				c.Reason = Reason{Name: "recovering", Guard: c.Reason.Guard}
			} else {
				c.State, c.Reason = Disengaged, Reason{}
			}
		}
	}
	if c.State == prev {
		return Transition{}, false
	}
	c.Since = s.At
	return Transition{From: prev, To: c.State, Reason: c.Reason, At: s.At}, true
}
