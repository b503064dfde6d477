package admission

import "time"

// Inflight counts the requests being served, by kind (those being paced
// are not counted until they are admitted).
type Inflight struct {
	QueueProducer, QueueConsumer, QueueAck, Lock, Query int64
}

// Of returns the count of kind k (0 for KindNone).
func (in Inflight) Of(k Kind) int64 {
	switch k {
	case KindQueueProducer:
		return in.QueueProducer
	case KindQueueConsumer:
		return in.QueueConsumer
	case KindQueueAck:
		return in.QueueAck
	case KindLock:
		return in.Lock
	case KindQuery:
		return in.Query
	}
	return 0
}

// Queue is every queue request in flight: producers, consumers and acks.
func (in Inflight) Queue() int64 { return in.QueueProducer + in.QueueConsumer + in.QueueAck }

// Snapshot is one LSF sample: the host's pressure and the server's
// in-flight requests at At.
type Snapshot struct {
	Inflight Inflight
	// RSSBytes is the process's resident set.
	RSSBytes uint64
	// MemoryUsedPercent is host memory in use; MemoryIncludesReclaimable
	// tells whether it was computed from MemAvailable (page cache counted
	// as free) or only from free+buffers (stricter; see
	// Config.MemoryStrictHeadroomPercent).
	MemoryUsedPercent         float64
	MemoryIncludesReclaimable bool
	// SwapBytes and SwapUsedPercent are swap in use (0 without swap).
	SwapBytes       uint64
	SwapUsedPercent float64
	// CPUPercent is host CPU utilisation since the previous sample.
	CPUPercent float64
	// Load averages, the LSF's 1-minute baseline and Load1 / baseline.
	Load1, Load5, Load15 float64
	Load1Baseline        float64
	Load1Multiplier      float64
	Goroutines           int
	At                   time.Time
}

// effectiveMemoryPercent discounts the strict headroom when the reading
// could not count reclaimable memory as free.
func (s Snapshot) effectiveMemoryPercent(cfg *Config) float64 {
	if s.MemoryIncludesReclaimable || cfg.MemoryStrictHeadroomPercent <= 0 {
		return s.MemoryUsedPercent
	}
	return max(s.MemoryUsedPercent-cfg.MemoryStrictHeadroomPercent, 0)
}
