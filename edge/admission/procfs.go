package admission

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// HostSample is one raw reading of the host: cumulative CPU ticks, memory
// and swap in bytes, load averages and the process's RSS.
type HostSample struct {
	MemTotal, MemAvailable uint64
	// MemAvailableKnown is false when the kernel gives no MemAvailable and
	// MemAvailable is free+buffers (an underestimate).
	MemAvailableKnown    bool
	SwapTotal, SwapFree  uint64
	Load1, Load5, Load15 float64
	// CPUTotal and CPUIdle are cumulative ticks of all CPUs (idle counts
	// iowait: a CPU waiting on the disk could run other work).
	CPUTotal, CPUIdle uint64
	RSS               uint64
	// NumCPU is the CPUs the load average is shared among.
	NumCPU int
}

// Source reads the host. ProcFS reads Linux's /proc; tests inject fakes.
type Source interface {
	Read() (HostSample, error)
}

// ProcFS reads a Linux procfs mounted at Root ("" = /proc); a test may
// point Root at a directory of fake files.
type ProcFS struct{ Root string }

// ErrProcFormat is returned for a procfs file that cannot be parsed.
var ErrProcFormat = errors.New("admission: unexpected procfs format")

// Read reads meminfo, loadavg, stat and self/statm.
func (p ProcFS) Read() (HostSample, error) {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	h := HostSample{NumCPU: runtime.NumCPU()}
	steps := []struct {
		file  string
		parse func([]byte, *HostSample) error
	}{
		{"meminfo", parseMeminfo}, {"loadavg", parseLoadavg}, {"stat", parseStat}, {"self/statm", parseStatm},
	}
	for _, st := range steps {
		b, err := os.ReadFile(filepath.Join(root, st.file))
		if err != nil {
			return h, fmt.Errorf("admission: read %s: %w", st.file, err)
		}
		if err := st.parse(b, &h); err != nil {
			return h, fmt.Errorf("admission: parse %s: %w", st.file, err)
		}
	}
	return h, nil
}

func parseMeminfo(b []byte, h *HostSample) error {
	kb := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			kb[strings.TrimSuffix(f[0], ":")] = v << 10
		}
	}
	h.MemTotal = kb["MemTotal"]
	if h.MemTotal == 0 {
		return fmt.Errorf("no MemTotal: %w", ErrProcFormat)
	}
	if v, ok := kb["MemAvailable"]; ok {
		h.MemAvailable, h.MemAvailableKnown = min(v, h.MemTotal), true
	} else {
		h.MemAvailable = min(kb["MemFree"]+kb["Buffers"], h.MemTotal)
	}
	h.SwapTotal, h.SwapFree = kb["SwapTotal"], min(kb["SwapFree"], kb["SwapTotal"])
	return nil
}

func parseLoadavg(b []byte, h *HostSample) error {
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ErrProcFormat
	}
	var err error
	loads := [3]*float64{&h.Load1, &h.Load5, &h.Load15}
	for i, p := range loads {
		if *p, err = strconv.ParseFloat(f[i], 64); err != nil {
			return fmt.Errorf("%w: %w", ErrProcFormat, err)
		}
	}
	return nil
}

// parseStat reads the aggregate "cpu" line: user nice system idle iowait
// irq softirq steal (guest time is already in user).
func parseStat(b []byte, h *HostSample) error {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return ErrProcFormat
	}
	var total uint64
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProcFormat, err)
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			h.CPUIdle += v
		}
	}
	h.CPUTotal = total
	return nil
}

func parseStatm(b []byte, h *HostSample) error {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return ErrProcFormat
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProcFormat, err)
	}
	h.RSS = pages * uint64(os.Getpagesize())
	return nil
}
