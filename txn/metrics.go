package txn

import (
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Transaction metrics, process-wide (VictoriaMetrics' default set, served
// on --metrics-listen). Names follow lockd v0.9's telemetry
// (lockd.txn.decisions.recorded, lockd.txn.apply.*) as Prometheus spells
// them.
var (
	commitsRecorded   = metrics.NewCounter(`lockd_txn_decisions_recorded_total{state="commit"}`)
	rollbacksRecorded = metrics.NewCounter(`lockd_txn_decisions_recorded_total{state="rollback"}`)
	applyApplied      = metrics.NewCounter(`lockd_txn_apply_applied_total`)
	applyFailed       = metrics.NewCounter(`lockd_txn_apply_failed_total`)
	applyRetries      = metrics.NewCounter(`lockd_txn_apply_retries_total`)
	fanoutFailed      = metrics.NewCounter(`lockd_txn_fanout_failed_total`)
	fanoutSeconds     = metrics.NewPrometheusHistogram(`lockd_txn_fanout_duration_seconds`)
	staleRejected     = metrics.NewCounter(`lockd_txn_tc_term_stale_total`)
	replays           = metrics.NewCounter(`lockd_txn_replays_total`)
	// appliedWriteFailed counts decisions every participant applied whose
	// applied mark could not be written (retried).
	appliedWriteFailed = metrics.NewCounter(`lockd_txn_applied_write_failed_total`)
	// retriesScheduled counts the coordinator's own retries of unfinished
	// fan-outs.
	retriesScheduled = metrics.NewCounter(`lockd_txn_fanout_retries_scheduled_total`)
	// replaysCoalesced counts replays answered with one already queued
	// for the same transaction instead of running again.
	replaysCoalesced = metrics.NewCounter(`lockd_txn_replays_coalesced_total`)
)

// recordDecision counts a decision written durably.
func recordDecision(s State) {
	switch s {
	case Commit:
		commitsRecorded.Inc()
	case Rollback:
		rollbacksRecorded.Inc()
	}
}

// observeFanout records how long a fan-out took.
func observeFanout(d time.Duration) { fanoutSeconds.Update(d.Seconds()) }
