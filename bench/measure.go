package main

import (
	"fmt"
	"time"
)

// counts are a disk server's pebble commits and fsyncs, and a cluster
// node's multiplexed frames and the writes that carried them.
type counts struct{ commits, syncs, muxFrames, muxWrites int64 }

func (c counts) minus(o counts) counts {
	return counts{c.commits - o.commits, c.syncs - o.syncs, c.muxFrames - o.muxFrames, c.muxWrites - o.muxWrites}
}

func (c counts) plus(o counts) counts {
	return counts{c.commits + o.commits, c.syncs + o.syncs, c.muxFrames + o.muxFrames, c.muxWrites + o.muxWrites}
}

// usage is what a server spent during one measured run.
type usage struct {
	cpu    time.Duration // server process CPU (0 when unknown)
	faults int64         // server minor page faults
	counts counts
}

// meter reads a target's CPU and counters before a run; done returns what
// the run cost.
type meter struct {
	t       *target
	cpu     time.Duration
	faults  int64
	counts  counts
	profile func() // waits for the run's server profile, if one is taken
}

func startMeter(t *target) meter {
	m := meter{t: t}
	if t.cpu != nil {
		m.cpu, m.faults = t.cpu()
	}
	if t.counts != nil {
		m.counts = t.counts()
	}
	if t.profile != nil {
		m.profile = t.profile()
	}
	return m
}

func (m meter) done() usage {
	var u usage
	if m.profile != nil {
		m.profile()
	}
	if m.t.cpu != nil {
		cpu, faults := m.t.cpu()
		u.cpu, u.faults = cpu-m.cpu, faults-m.faults
	}
	if m.t.counts != nil {
		u.counts = m.t.counts().minus(m.counts)
	}
	return u
}

// perOp formats a server's CPU per operation in µs ("—" when unknown).
func perOp(cpu time.Duration, ops float64) string {
	if cpu <= 0 || ops <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", float64(cpu.Nanoseconds())/1e3/ops)
}

// perReq formats commits or fsyncs per request ("—" without counters).
func perReq(t *target, n int64, reqs float64) string {
	if t.counts == nil || reqs <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(n)/reqs)
}
