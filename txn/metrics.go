package txn

import "github.com/VictoriaMetrics/metrics"

var (
	decisionsRecorded = metrics.NewCounter(`lockd_txn_decisions_recorded_total`)
	fanoutFailed      = metrics.NewCounter(`lockd_txn_fanout_failed_total`)
	staleRejected     = metrics.NewCounter(`lockd_txn_tc_term_stale_total`)
	replays           = metrics.NewCounter(`lockd_txn_replays_total`)
	// appliedWriteFailed counts decisions every participant applied whose
	// applied mark could not be written (retried).
	appliedWriteFailed = metrics.NewCounter(`lockd_txn_applied_write_failed_total`)
	// retriesScheduled counts the coordinator's own retries of unfinished
	// fan-outs.
	retriesScheduled = metrics.NewCounter(`lockd_txn_fanout_retries_scheduled_total`)
)
