package keyspace

import (
	"io"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Lease and attachment metrics, process-wide (VictoriaMetrics' default
// set, served on --metrics-listen). Names follow lockd v0.9's telemetry
// (lockd.lease.*, lockd.attachments.*) as Prometheus spells them. The key
// actors count a change once its record write is applied, so every
// counter is one atomic add on the actor's goroutine.
var (
	leasesAcquired = metrics.NewCounter(`lockd_lease_acquire_total`)
	leasesReleased = metrics.NewCounter(`lockd_lease_release_total`)
	leasesKept     = metrics.NewCounter(`lockd_lease_keepalive_total`)
	leasesExpired  = metrics.NewCounter(`lockd_lease_expired_total`)
	leaseHandoffs  = metrics.NewCounter(`lockd_lease_handoffs_total`)

	attachUploads  = metrics.NewCounter(`lockd_attachments_attach_total`)
	attachBytesIn  = metrics.NewCounter(`lockd_attachments_attach_bytes_total`)
	attachReads    = metrics.NewCounter(`lockd_attachments_retrieve_total`)
	attachBytesOut = metrics.NewCounter(`lockd_attachments_retrieve_bytes_total`)

	// waiting counts blocked acquires on every key of the process.
	waiting atomic.Int64
	_       = metrics.NewGauge(`lockd_lease_waiters`, func() float64 { return float64(waiting.Load()) })
)

// countingBody counts the bytes of an attachment read back to a client.
// WriteTo keeps the inner reader's fast path (a disk blob is an *os.File
// that the response writer can sendfile).
type countingBody struct{ rc io.ReadCloser }

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	attachBytesOut.Add(n)
	return n, err
}

func (c *countingBody) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, c.rc)
	attachBytesOut.AddInt64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }
