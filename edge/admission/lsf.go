package admission

import (
	"math"
	"runtime"
	"time"
)

// loadBaselineTau is the time constant of the load baseline: the
// baseline follows the 1-minute load average over about ten minutes, so
// that a sudden rise stands out (the load multiplier) while a host that is
// always this busy stops counting as pressure.
const loadBaselineTau = 10 * time.Minute

// lsfState turns raw host readings into snapshots: CPU utilisation is
// the change of the tick counters since the previous reading, and the
// load baseline is an exponential average of the 1-minute load. It is a
// pure value; the Observer feeds it.
type lsfState struct {
	prev     HostSample
	prevAt   time.Time
	baseline float64
	primed   bool
}

// derive makes the snapshot of reading h taken at at.
func (st *lsfState) derive(h HostSample, in Inflight, at time.Time) Snapshot {
	s := Snapshot{Inflight: in, RSSBytes: h.RSS, Load1: h.Load1, Load5: h.Load5, Load15: h.Load15,
		MemoryIncludesReclaimable: h.MemAvailableKnown, Goroutines: runtime.NumGoroutine(), At: at}
	if h.MemTotal > 0 {
		s.MemoryUsedPercent = 100 * float64(h.MemTotal-min(h.MemAvailable, h.MemTotal)) / float64(h.MemTotal)
	}
	if h.SwapTotal > 0 {
		s.SwapBytes = h.SwapTotal - min(h.SwapFree, h.SwapTotal)
		s.SwapUsedPercent = 100 * float64(s.SwapBytes) / float64(h.SwapTotal)
	}
	floor := max(float64(h.NumCPU)/2, 0.25)
	if !st.primed {
		st.baseline = max(h.Load1, floor)
	} else {
		if dt := at.Sub(st.prevAt); dt > 0 {
			alpha := 1 - math.Exp(-float64(dt)/float64(loadBaselineTau))
			st.baseline += (h.Load1 - st.baseline) * alpha
		}
		st.baseline = max(st.baseline, floor)
		if dTotal := h.CPUTotal - st.prev.CPUTotal; h.CPUTotal > st.prev.CPUTotal && h.CPUIdle >= st.prev.CPUIdle {
			dIdle := min(h.CPUIdle-st.prev.CPUIdle, dTotal)
			s.CPUPercent = 100 * float64(dTotal-dIdle) / float64(dTotal)
		}
	}
	s.Load1Baseline = st.baseline
	s.Load1Multiplier = h.Load1 / st.baseline
	st.prev, st.prevAt, st.primed = h, at, true
	return s
}
