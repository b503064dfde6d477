package connguard

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

var (
	blocks     = metrics.GetOrCreateCounter(`lockd_connguard_blocks_total`)
	rejected   = metrics.GetOrCreateCounter(`lockd_connguard_rejected_total`)
	blockedIPs = metrics.GetOrCreateGauge(`lockd_connguard_blocked_sources`, nil)
	suspicious sync.Map // reason → *metrics.Counter
)

func countSuspicious(reason string) {
	c, ok := suspicious.Load(reason)
	if !ok {
		c, _ = suspicious.LoadOrStore(reason, metrics.GetOrCreateCounter(fmt.Sprintf(`lockd_connguard_suspicious_total{reason=%q}`, reason)))
	}
	c.(*metrics.Counter).Inc()
}
