package soak

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary prints the run's summary tables: per phase the operations
// (count, outcomes, latency percentiles, error codes), the faults and the
// verdicts; for a failing run the seed and the failing histories.
func (r *Result) WriteSummary(w io.Writer) {
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "lockd soak: profile %s, seed %d, run %s, %v: %s\n", r.Profile.Name, r.Profile.Seed, r.RunID, r.Elapsed.Round(time.Second), verdict)
	fmt.Fprintf(w, "replay: %s\n", r.Replay)
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "\n== phase %s (store %s, %v of traffic, %d operations)\n", ph.Name, ph.Store, (ph.End - ph.Start).Round(time.Second), ph.Ops)
		if ph.Err != "" {
			fmt.Fprintf(w, "phase error: %s\n", ph.Err)
		}
		writeStats(w, ph.Stats)
		writeFaults(w, ph.Faults, ph.Proxy)
		writeVerdicts(w, ph.Verdicts)
	}
	if !r.Passed {
		fmt.Fprintf(w, "\nFAILED with seed %d; replay the schedule with: %s\n", r.Profile.Seed, r.Replay)
	}
	for _, ph := range r.Phases {
		for _, v := range ph.Verdicts {
			writeFailures(w, v)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func writeStats(w io.Writer, stats []KindStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tops\tok\terrors\tunknown\tp50\tp99\tmax\t  error codes\t")
	for _, s := range stats {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t  %s\t\n", s.Kind, s.Ops, s.OK, s.Errors, s.Unknown,
			fmtLat(s.P50), fmtLat(s.P99), fmtLat(s.Max), fmtCodes(s.Codes))
	}
	tw.Flush()
}

func fmtLat(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", d/time.Microsecond)
}

func fmtCodes(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k })
	parts := make([]string, len(kvs))
	for i, e := range kvs {
		parts[i] = fmt.Sprintf("%s=%d", e.k, e.v)
	}
	return strings.Join(parts, " ")
}

func writeFaults(w io.Writer, evs []FaultEvent, ps *ProxyStats) {
	counts := map[string]int{}
	for _, ev := range evs {
		counts[faultLabel(ev)]++
	}
	fmt.Fprintf(w, "faults injected: %d", len(evs))
	for _, k := range sortedKeys(counts) {
		fmt.Fprintf(w, ", %s×%d", k, counts[k])
	}
	if ps != nil {
		fmt.Fprintf(w, " (proxy: %d connections, %d dropped, %d reset)", ps.Conns, ps.Dropped, ps.Resets)
	}
	fmt.Fprintln(w)
	for _, ev := range evs {
		line := fmt.Sprintf("  %8s–%-8s %-22s %s", fmtDur(ev.Start), fmtDur(ev.End), faultLabel(ev), ev.Detail)
		if ev.Err != "" {
			line += " ERROR: " + shorten(ev.Err, 160)
		}
		fmt.Fprintln(w, line)
	}
}

func faultLabel(ev FaultEvent) string {
	if ev.Mode != "" {
		return ev.Kind + ":" + ev.Mode
	}
	return ev.Kind
}

func writeVerdicts(w io.Writer, vs []Verdict) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "invariant\tverdict\tchecked\tsummary")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", v.Check, v.Status, v.Checked, v.Summary)
	}
	tw.Flush()
}

func writeFailures(w io.Writer, v Verdict) {
	if len(v.Failures) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s [%s] %s: %s\n", v.Check, v.Phase, v.Status, v.Invariant)
	for _, f := range v.Failures {
		fmt.Fprintf(w, "  - %s: %s\n", f.Key, f.Message)
		if len(f.History) > 0 {
			fmt.Fprintf(w, "    minimal failing history (%d operations):\n", len(f.History))
			for _, op := range f.History {
				fmt.Fprintf(w, "      %s\n", describe(op))
			}
		}
		if f.Visualization != "" {
			fmt.Fprintf(w, "    porcupine visualization: %s\n", f.Visualization)
		}
	}
}

// WriteFiles writes report.json (the result without the history),
// history.jsonl (every operation, one per line) and report.html into
// dir, and returns their paths.
func (r *Result) WriteFiles(dir string) ([]string, error) {
	paths := []string{filepath.Join(dir, "report.json"), filepath.Join(dir, "history.jsonl"), filepath.Join(dir, "report.html")}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(paths[0], b, 0o644); err != nil {
		return nil, err
	}
	if err := writeHistory(paths[1], r.Ops); err != nil {
		return nil, err
	}
	f, err := os.Create(paths[2])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := r.WriteHTML(f); err != nil {
		return nil, err
	}
	return paths, f.Close()
}

func writeHistory(path string, ops []Op) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
