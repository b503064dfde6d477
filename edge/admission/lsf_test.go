package admission

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// fakeProc writes a procfs tree with the given files.
func fakeProc(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var procFiles = map[string]string{
	"meminfo":    "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\nBuffers: 10 kB\nSwapTotal:      400 kB\nSwapFree:       300 kB\n",
	"loadavg":    "3.50 2.25 1.00 3/600 12345\n",
	"stat":       "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n",
	"self/statm": "1000 256 10 1 0 100 0\n",
}

func TestProcFSRead(t *testing.T) {
	h, err := ProcFS{Root: fakeProc(t, procFiles)}.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := HostSample{MemTotal: 1000 << 10, MemAvailable: 250 << 10, MemAvailableKnown: true, SwapTotal: 400 << 10,
		SwapFree: 300 << 10, Load1: 3.5, Load5: 2.25, Load15: 1, CPUTotal: 1000, CPUIdle: 850,
		RSS: 256 * uint64(os.Getpagesize()), NumCPU: h.NumCPU}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
}

func TestProcFSStrictMemory(t *testing.T) {
	files := map[string]string{}
	for k, v := range procFiles {
		files[k] = v
	}
	files["meminfo"] = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
	h, err := ProcFS{Root: fakeProc(t, files)}.Read()
	if err != nil {
		t.Fatal(err)
	}
	if h.MemAvailableKnown || h.MemAvailable != 120<<10 || h.SwapTotal != 0 {
		t.Fatalf("strict reading: %+v", h)
	}
}

func TestProcFSErrors(t *testing.T) {
	for _, bad := range []map[string]string{
		{"meminfo": "nothing here\n"},
		{"loadavg": "x y\n"},
		{"stat": "intr 1 2 3\n"},
		{"self/statm": "1\n"},
	} {
		files := map[string]string{}
		for k, v := range procFiles {
			files[k] = v
		}
		for k, v := range bad {
			files[k] = v
		}
		if _, err := (ProcFS{Root: fakeProc(t, files)}).Read(); !errors.Is(err, ErrProcFormat) {
			t.Errorf("%v: err %v, want ErrProcFormat", bad, err)
		}
	}
	if _, err := (ProcFS{Root: t.TempDir()}).Read(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing files: %v", err)
	}
}

// The real /proc of this Linux host parses.
func TestProcFSHost(t *testing.T) {
	h, err := ProcFS{}.Read()
	if err != nil {
		t.Fatal(err)
	}
	if h.MemTotal == 0 || h.CPUTotal == 0 || h.RSS == 0 {
		t.Fatalf("implausible host sample %+v", h)
	}
}

func TestDeriveCPUAndBaseline(t *testing.T) {
	var st lsfState
	h := HostSample{MemTotal: 100, MemAvailable: 40, MemAvailableKnown: true, SwapTotal: 10, SwapFree: 5,
		Load1: 1, CPUTotal: 1000, CPUIdle: 900, NumCPU: 2}
	s := st.derive(h, Inflight{Lock: 3}, t0)
	if s.CPUPercent != 0 || s.MemoryUsedPercent != 60 || s.SwapUsedPercent != 50 || s.SwapBytes != 5 || s.Inflight.Lock != 3 {
		t.Fatalf("first sample %+v", s)
	}
	if s.Load1Baseline != 1 || s.Load1Multiplier != 1 {
		t.Fatalf("baseline starts at the first load (floored at NumCPU/2): %+v", s)
	}
	// 200 ticks later, 50 of them idle: 75% busy. A load spike to 8 right
	// after barely moves the ten-minute baseline.
	h.CPUTotal, h.CPUIdle, h.Load1 = 1200, 950, 8
	s = st.derive(h, Inflight{}, t0.Add(time.Second))
	if s.CPUPercent != 75 {
		t.Fatalf("cpu %v, want 75", s.CPUPercent)
	}
	if s.Load1Baseline < 1 || s.Load1Baseline > 1.02 || s.Load1Multiplier < 7.8 {
		t.Fatalf("spike: baseline %v multiplier %v", s.Load1Baseline, s.Load1Multiplier)
	}
	// A load that stays at 8 for an hour becomes the baseline.
	at := t0.Add(time.Second)
	for i := 0; i < 60; i++ {
		at = at.Add(time.Minute)
		s = st.derive(h, Inflight{}, at)
	}
	if math.Abs(s.Load1Multiplier-1) > 0.01 {
		t.Fatalf("sustained load: multiplier %v, want ~1", s.Load1Multiplier)
	}
	// Counters that went backwards (a wrapped or reset reading) give 0.
	h.CPUTotal, h.CPUIdle = 10, 5
	if s = st.derive(h, Inflight{}, at.Add(time.Second)); s.CPUPercent != 0 {
		t.Fatalf("backwards counters: cpu %v", s.CPUPercent)
	}
}

// scriptSource returns its readings in turn, then repeats the last.
type scriptSource struct {
	mu  sync.Mutex
	out []HostSample
	err error
}

func (s *scriptSource) Read() (HostSample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return HostSample{}, s.err
	}
	h := s.out[0]
	if len(s.out) > 1 {
		s.out = s.out[1:]
	}
	return h, nil
}

func TestObserverDrivesController(t *testing.T) {
	clk := clock.NewFake(t0)
	cfg := Config{Enabled: true, CPUPercentSoftLimit: 50, CPUPercentHardLimit: 80, RecoverySamples: 2,
		SampleInterval: 100 * time.Millisecond}
	ctrl := New(cfg, clk, zerolog.Nop())
	idle := func(total, idle uint64) HostSample {
		return HostSample{MemTotal: 1, MemAvailable: 1, CPUTotal: total, CPUIdle: idle, NumCPU: 1}
	}
	src := &scriptSource{out: []HostSample{
		idle(100, 100), // primes the CPU counters
		idle(200, 110), // 90% busy: engaged
		idle(300, 290), // 10%
		idle(400, 390), // 10%: recovery
		idle(500, 490),
		idle(600, 590), // disengaged
	}}
	obs := NewObserver(src, ctrl, zerolog.Nop())
	obs.Start()
	defer obs.Stop()
	want := []State{Disengaged, Engaged, Engaged, Recovery, Recovery, Disengaged}
	for i, w := range want {
		if i > 0 {
			clk.Advance(100 * time.Millisecond)
		}
		if got := ctrl.State(); got != w {
			t.Fatalf("sample %d: %s, want %s", i, got, w)
		}
	}
	obs.Stop()
	src.mu.Lock()
	src.out = []HostSample{idle(700, 700)}
	src.mu.Unlock()
	clk.Advance(time.Second) // no sample after Stop
	if st := ctrl.Status(); !st.Snapshot.At.Equal(t0.Add(500 * time.Millisecond)) {
		t.Fatalf("sampled after Stop: last sample at %v", st.Snapshot.At)
	}
}

func TestObserverSurvivesReadErrors(t *testing.T) {
	clk := clock.NewFake(t0)
	ctrl := New(Config{Enabled: true, CPUPercentHardLimit: 10}, clk, zerolog.Nop())
	src := &scriptSource{err: errors.New("no procfs")}
	obs := NewObserver(src, ctrl, zerolog.Nop())
	obs.Sample()
	obs.Sample()
	if ctrl.State() != Disengaged || !ctrl.Status().Snapshot.At.IsZero() {
		t.Fatalf("a failed read changed the controller: %+v", ctrl.Status())
	}
}

// countSource counts its reads.
type countSource struct{ n int }

func (c *countSource) Read() (HostSample, error) { c.n++; return HostSample{}, nil }

func TestObserverDisabledDoesNotSample(t *testing.T) {
	clk := clock.NewFake(t0)
	ctrl := New(Config{}, clk, zerolog.Nop())
	src := &countSource{}
	NewObserver(src, ctrl, zerolog.Nop()).Start()
	clk.Advance(time.Hour)
	if src.n != 0 {
		t.Fatalf("disabled observer read the host %d times", src.n)
	}
}
