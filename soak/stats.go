package soak

import (
	"sort"
	"time"
)

// KindStats summarise one operation kind of one phase.
type KindStats struct {
	Kind    Kind           `json:"kind"`
	Ops     int            `json:"ops"`
	OK      int            `json:"ok"`
	Errors  int            `json:"errors"`  // definite refusals
	Unknown int            `json:"unknown"` // no definite answer
	Codes   map[string]int `json:"codes,omitempty"`
	P50     time.Duration  `json:"p50"`
	P99     time.Duration  `json:"p99"`
	Max     time.Duration  `json:"max"`
}

// kindOrder is the order of kinds in tables and plots.
var kindOrder = []Kind{KindAcquire, KindLeaseGet, KindCycle, KindRollback, KindTxn, KindRead, KindQuery,
	KindEnqueue, KindDequeue, KindAck, KindNack, KindZombie}

// summarize computes per-kind statistics of ops.
func summarize(ops []Op) []KindStats {
	by := map[Kind][]Op{}
	for _, op := range ops {
		by[op.Kind] = append(by[op.Kind], op)
	}
	var out []KindStats
	for _, k := range kindOrder {
		os := by[k]
		if len(os) == 0 {
			continue
		}
		s := KindStats{Kind: k, Ops: len(os), Codes: map[string]int{}}
		lat := make([]time.Duration, 0, len(os))
		for _, op := range os {
			switch op.Outcome {
			case OK:
				s.OK++
			case Fail:
				s.Errors++
			default:
				s.Unknown++
			}
			if op.Code != "" {
				s.Codes[op.Code]++
			}
			lat = append(lat, op.Latency())
		}
		s.P50, s.P99, s.Max = percentiles(lat)
		out = append(out, s)
	}
	return out
}

func percentiles(lat []time.Duration) (p50, p99, mx time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return at(0.50), at(0.99), lat[len(lat)-1]
}

// Bucket is one time slice of one kind, for the latency plots.
type Bucket struct {
	T      time.Duration `json:"t"` // bucket start (run offset)
	Ops    int           `json:"ops"`
	Errors int           `json:"errors"` // refusals and unknowns
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	Max    time.Duration `json:"max"`
}

// Series is a kind's latency over time.
type Series struct {
	Kind    Kind     `json:"kind"`
	Buckets []Bucket `json:"buckets"`
}

// plotKinds are the kinds plotted (each is a whole client-visible step).
var plotKinds = []Kind{KindCycle, KindTxn, KindAcquire, KindRead, KindQuery, KindEnqueue, KindDequeue, KindAck}

// timeSeries buckets ops by the time they returned, width wide.
func timeSeries(ops []Op, from, to, width time.Duration) []Series {
	n := int((to-from)/width) + 1
	var out []Series
	for _, k := range plotKinds {
		lats := make([][]time.Duration, n)
		errs := make([]int, n)
		any := false
		for _, op := range ops {
			if op.Kind != k || op.Return < from || op.Return > to {
				continue
			}
			i := int((op.Return - from) / width)
			lats[i] = append(lats[i], op.Latency())
			if op.Outcome != OK && op.Code != "waiting" {
				errs[i]++
			}
			any = true
		}
		if !any {
			continue
		}
		s := Series{Kind: k}
		for i := range n {
			b := Bucket{T: from + time.Duration(i)*width, Ops: len(lats[i]), Errors: errs[i]}
			b.P50, b.P99, b.Max = percentiles(lats[i])
			s.Buckets = append(s.Buckets, b)
		}
		out = append(out, s)
	}
	return out
}
