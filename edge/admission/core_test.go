package admission

import (
	"testing"
	"time"
)

// step is one sample of a scripted run and the posture expected after it.
type step struct {
	s      Snapshot
	want   State
	reason string
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func cpu(p float64) Snapshot  { return Snapshot{CPUPercent: p, MemoryIncludesReclaimable: true} }
func lock(n int64) Snapshot   { return Snapshot{Inflight: Inflight{Lock: n}} }
func mem(p float64) Snapshot  { return Snapshot{MemoryUsedPercent: p, MemoryIncludesReclaimable: true} }
func load(m float64) Snapshot { return Snapshot{Load1Multiplier: m} }

func TestCoreTransitions(t *testing.T) {
	def := Defaults()
	def.RecoverySamples = 2
	guards := Config{Enabled: true, LockSoftLimit: 10, LockHardLimit: 20, RecoverySamples: 1}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"quiet stays disengaged", def, []step{
			{cpu(10), Disengaged, ""}, {mem(50), Disengaged, ""}, {load(1), Disengaged, ""},
		}},
		{"soft arms, healthy samples disarm", def, []step{
			{cpu(72), SoftArm, "cpu_soft"},
			{cpu(40), SoftArm, "cpu_soft"},
			{cpu(40), Disengaged, ""},
		}},
		{"hard engages, recovers in two stages", def, []step{
			{cpu(90), Engaged, "cpu_hard"},
			{cpu(75), Engaged, "cpu_hard"}, // soft while engaged keeps engaged
			{cpu(30), Engaged, "cpu_hard"},
			{cpu(30), Recovery, "recovering"},
			{cpu(30), Recovery, "recovering"},
			{cpu(30), Disengaged, ""},
		}},
		{"hysteresis band restarts the healthy count", def, []step{
			{cpu(90), Engaged, "cpu_hard"},
			{cpu(30), Engaged, "cpu_hard"},
			{cpu(66), Engaged, "cpu_hard"}, // below soft (70) but above 90% of it
			{cpu(30), Engaged, "cpu_hard"},
			{cpu(30), Recovery, "recovering"},
		}},
		{"soft during recovery soft-arms, hard re-engages", def, []step{
			{mem(90), Engaged, "memory_hard"},
			{mem(10), Engaged, "memory_hard"},
			{mem(10), Recovery, "recovering"},
			{mem(80), SoftArm, "memory_soft"},
			{mem(86), Engaged, "memory_hard"},
		}},
		{"load multiplier", def, []step{
			{load(4), SoftArm, "load_soft"}, {load(8.5), Engaged, "load_hard"},
		}},
		{"in-flight guard names its kind", guards, []step{
			{lock(10), SoftArm, "lock_inflight_soft"},
			{lock(20), Engaged, "lock_inflight_hard"},
			{lock(6), Engaged, "lock_inflight_hard"}, // above half the soft limit: not healthy
			{lock(5), Recovery, "recovering"},
			{lock(0), Disengaged, ""},
		}},
		{"zero thresholds are off", Config{Enabled: true}, []step{
			{cpu(100), Disengaged, ""}, {mem(100), Disengaged, ""}, {lock(1 << 20), Disengaged, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.normalized()
			var c Core
			for i, st := range tc.steps {
				st.s.At = t0.Add(time.Duration(i) * time.Second)
				prev := c.State
				tr, changed := c.Observe(&cfg, st.s)
				if c.State != st.want || c.Reason.Name != st.reason {
					t.Fatalf("step %d: state %s (%q), want %s (%q)", i, c.State, c.Reason.Name, st.want, st.reason)
				}
				if changed != (prev != st.want) {
					t.Fatalf("step %d: changed=%v from %s to %s", i, changed, prev, st.want)
				}
				if changed && (tr.From != prev || tr.To != st.want || !tr.At.Equal(st.s.At) || !c.Since.Equal(st.s.At)) {
					t.Fatalf("step %d: transition %+v since %v", i, tr, c.Since)
				}
			}
		})
	}
}

func TestCoreRecoveryKeepsGuard(t *testing.T) {
	cfg := Config{Enabled: true, QueryHardLimit: 4, RecoverySamples: 1}.normalized()
	var c Core
	c.Observe(&cfg, Snapshot{Inflight: Inflight{Query: 4}})
	c.Observe(&cfg, Snapshot{})
	if c.State != Recovery || c.Reason.Guard != KindQuery {
		t.Fatalf("recovery after a query guard: %s guard %s", c.State, c.Reason.Guard)
	}
}

func TestStrictMemoryHeadroom(t *testing.T) {
	cfg := Defaults().normalized()
	strict := Snapshot{MemoryUsedPercent: 92} // free+buffers only
	if lvl, why, _ := Assess(&cfg, strict); lvl != Soft || why.Name != "memory_soft" {
		t.Fatalf("92%% strict - 15%% headroom = 77%%: got %v %q", lvl, why.Name)
	}
	strict.MemoryIncludesReclaimable = true
	if lvl, _, _ := Assess(&cfg, strict); lvl != Hard {
		t.Fatalf("92%% with MemAvailable: got %v", lvl)
	}
}

func TestNormalizedCapsSoftAtHard(t *testing.T) {
	c := Config{LockHardLimit: 5, LockSoftLimit: 50, CPUPercentHardLimit: 60, CPUPercentSoftLimit: 0}.normalized()
	if c.LockSoftLimit != 5 || c.CPUPercentSoftLimit != 60 {
		t.Fatalf("soft limits not capped: lock %d cpu %v", c.LockSoftLimit, c.CPUPercentSoftLimit)
	}
	if c.MaxWait != DefaultMaxWait || c.RecoverySamples != DefaultRecoverySamples || c.PacingFloor <= 0 {
		t.Fatalf("defaults not filled: %+v", c)
	}
}
