package queues

import (
	"github.com/VictoriaMetrics/metrics"
)

// Queue metrics, process-wide (VictoriaMetrics' default set, served on
// --metrics-listen). Names follow lockd v0.9's telemetry (lockd.queue.*)
// as Prometheus spells them where v0.9 had the metric.
var (
	enqueued       = metrics.NewCounter(`lockd_queue_enqueue_total`)
	enqueuedBytes  = metrics.NewCounter(`lockd_queue_enqueue_bytes_total`)
	delivered      = metrics.NewCounter(`lockd_queue_dequeue_total`)
	deliveredBytes = metrics.NewCounter(`lockd_queue_dequeue_bytes_total`)
	acked          = metrics.NewCounter(`lockd_queue_ack_total`)
	nacked         = metrics.NewCounter(`lockd_queue_nack_total`)
	timedOut       = metrics.NewCounter(`lockd_queue_visibility_timeouts_total`)
	requeued       = metrics.NewCounter(`lockd_queue_requeue_total`)
	deadLettered   = [2]*metrics.Counter{
		metrics.NewCounter(`lockd_queue_dead_letter_total{reason="` + ReasonMaxAttempts + `"}`),
		metrics.NewCounter(`lockd_queue_dead_letter_total{reason="` + ReasonExpired + `"}`),
	}
)

// tally counts what one actor turn did to its queue. The core counts as
// it changes memory; the actor publishes the tally only once the turn's
// batch is written (a failed write reloads the queue and counts nothing).
type tally struct {
	enqueued, enqueuedBytes   int64
	delivered, deliveredBytes int64
	acked, nacked, timedOut   int64
	requeued                  int64
	dead                      [2]int64 // by reason: max attempts, ttl
}

func deadIndex(reason string) int {
	if reason == ReasonExpired {
		return 1
	}
	return 0
}

// publish adds t to the process counters.
func (t *tally) publish() {
	add := func(c *metrics.Counter, n int64) {
		if n != 0 {
			c.AddInt64(n)
		}
	}
	add(enqueued, t.enqueued)
	add(enqueuedBytes, t.enqueuedBytes)
	add(delivered, t.delivered)
	add(deliveredBytes, t.deliveredBytes)
	add(acked, t.acked)
	add(nacked, t.nacked)
	add(timedOut, t.timedOut)
	add(requeued, t.requeued)
	for i, n := range t.dead {
		add(deadLettered[i], n)
	}
}

// takeTally returns and clears the core's tally.
func (c *core) takeTally() tally {
	t := c.tally
	c.tally = tally{}
	return t
}
