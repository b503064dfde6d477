package admission

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics are process-wide (VictoriaMetrics' default set, served on
// --metrics-listen); several controllers in one process (tests) share
// them.
var (
	stateGauge   = metrics.GetOrCreateGauge(`lockd_qrf_state`, nil)
	pacingWaits  = metrics.GetOrCreateHistogram(`lockd_qrf_pacing_seconds`)
	lsfMemory    = metrics.GetOrCreateGauge(`lockd_lsf_memory_used_percent`, nil)
	lsfSwap      = metrics.GetOrCreateGauge(`lockd_lsf_swap_used_percent`, nil)
	lsfCPU       = metrics.GetOrCreateGauge(`lockd_lsf_cpu_percent`, nil)
	lsfLoad1     = metrics.GetOrCreateGauge(`lockd_lsf_load1`, nil)
	lsfLoadMult  = metrics.GetOrCreateGauge(`lockd_lsf_load1_multiplier`, nil)
	lsfRSS       = metrics.GetOrCreateGauge(`lockd_lsf_rss_bytes`, nil)
	lsfSamples   = metrics.GetOrCreateCounter(`lockd_lsf_samples_total`)
	lsfFailures  = metrics.GetOrCreateCounter(`lockd_lsf_sample_errors_total`)
	stateGauges  [len(stateNames)]*metrics.Gauge
	transitions  [len(stateNames)]*metrics.Counter
	inflightGau  [numKinds]*metrics.Gauge
	decisionCnts [numKinds][3]*metrics.Counter
)

// decision outcomes, the decision label of lockd_qrf_decisions_total.
const (
	outAdmitted = iota
	outPaced
	outThrottled
)

var outcomeNames = [3]string{"admitted", "paced", "throttled"}

func init() {
	for i, n := range stateNames {
		stateGauges[i] = metrics.GetOrCreateGauge(fmt.Sprintf(`lockd_qrf_state_active{state=%q}`, n), nil)
		transitions[i] = metrics.GetOrCreateCounter(fmt.Sprintf(`lockd_qrf_transitions_total{to=%q}`, n))
	}
	for k := KindQueueProducer; k < numKinds; k++ {
		inflightGau[k] = metrics.GetOrCreateGauge(fmt.Sprintf(`lockd_inflight_requests{kind=%q}`, k), nil)
		for o, n := range outcomeNames {
			decisionCnts[k][o] = metrics.GetOrCreateCounter(fmt.Sprintf(`lockd_qrf_decisions_total{kind=%q,decision=%q}`, k, n))
		}
	}
}

func publishState(s State) {
	stateGauge.Set(float64(s))
	for i, g := range stateGauges {
		v := 0.0
		if State(i) == s {
			v = 1
		}
		g.Set(v)
	}
}

func publishSample(s Snapshot) {
	lsfSamples.Inc()
	lsfMemory.Set(s.MemoryUsedPercent)
	lsfSwap.Set(s.SwapUsedPercent)
	lsfCPU.Set(s.CPUPercent)
	lsfLoad1.Set(s.Load1)
	lsfLoadMult.Set(s.Load1Multiplier)
	lsfRSS.Set(float64(s.RSSBytes))
	for k := KindQueueProducer; k < numKinds; k++ {
		inflightGau[k].Set(float64(s.Inflight.Of(k)))
	}
}

func countDecision(k Kind, d Decision) {
	if k == KindNone || k >= numKinds {
		return
	}
	o := outAdmitted
	switch {
	case d.Throttle:
		o = outThrottled
	case d.Delay > 0:
		o = outPaced
	}
	decisionCnts[k][o].Inc()
}
