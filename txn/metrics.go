package txn

import "github.com/VictoriaMetrics/metrics"

var (
	decisionsRecorded = metrics.NewCounter(`lockd_txn_decisions_recorded_total`)
	fanoutFailed      = metrics.NewCounter(`lockd_txn_fanout_failed_total`)
	staleRejected     = metrics.NewCounter(`lockd_txn_tc_term_stale_total`)
	replays           = metrics.NewCounter(`lockd_txn_replays_total`)
)
