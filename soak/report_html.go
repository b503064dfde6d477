package soak

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// WriteHTML writes a self-contained report (inline CSS and SVG, no
// scripts): the verdicts first, then per phase the latency-over-time and
// throughput plots with the faults marked on them, and the tables.
func (r *Result) WriteHTML(w io.Writer) error {
	return reportTmpl.Execute(w, r)
}

var kindColors = map[Kind]string{
	KindCycle: "#1f77b4", KindTxn: "#ff7f0e", KindAcquire: "#2ca02c", KindRead: "#9467bd",
	KindQuery: "#8c564b", KindEnqueue: "#e377c2", KindDequeue: "#17becf", KindAck: "#7f7f00",
}

var faultColors = map[string]string{
	FaultKill9: "#d62728", FaultRestart: "#ff9896", FaultDiskFull: "#8c564b",
	FaultChaos: "#9467bd", FaultClockJump: "#1f77b4", FaultCrash: "#000000",
	FaultPartition: "#bcbd22", FaultJoin: "#2ca02c",
}

// plot geometry
const (
	plotW, plotH       = 1100, 300
	padL, padR         = 64, 150
	padT, padB         = 34, 34
	innerW, innerH     = plotW - padL - padR, plotH - padT - padB
	minLatMs, maxLatMs = 0.1, 100_000.0
)

type xScale struct{ from, to time.Duration }

func (x xScale) at(t time.Duration) float64 {
	span := max(float64(x.to-x.from), 1)
	return padL + float64(innerW)*float64(t-x.from)/span
}

func yLat(d time.Duration) float64 {
	ms := math.Min(math.Max(float64(d)/float64(time.Millisecond), minLatMs), maxLatMs)
	f := (math.Log10(ms) - math.Log10(minLatMs)) / (math.Log10(maxLatMs) - math.Log10(minLatMs))
	return padT + float64(innerH)*(1-f)
}

// latencyPlot draws p99 (solid) and p50 (dashed) per kind on a log scale.
func latencyPlot(ph PhaseResult) template.HTML {
	x := xScale{ph.Start, seriesEnd(ph)}
	var b strings.Builder
	svgOpen(&b, fmt.Sprintf("latency over time, phase %s (solid p99, dashed p50; log scale)", ph.Name))
	faultBands(&b, x, ph)
	for _, ms := range []float64{0.1, 1, 10, 100, 1000, 10000, 100000} {
		y := yLat(time.Duration(ms * float64(time.Millisecond)))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`,
			padL, padL+innerW, y, y, padL-6, y+4, fmtLat(time.Duration(ms*float64(time.Millisecond))))
	}
	timeAxis(&b, x)
	for i, s := range ph.Series {
		c := kindColors[s.Kind]
		fmt.Fprintf(&b, `<path d="%s" stroke="%s" class="p99"/>`, linePath(s, x, func(bk Bucket) float64 { return yLat(bk.P99) }), c)
		fmt.Fprintf(&b, `<path d="%s" stroke="%s" class="p50"/>`, linePath(s, x, func(bk Bucket) float64 { return yLat(bk.P50) }), c)
		legend(&b, i, string(s.Kind), c)
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// throughputPlot draws completed operations and errors per second.
func throughputPlot(ph PhaseResult) template.HTML {
	x := xScale{ph.Start, seriesEnd(ph)}
	var ops, errs []float64
	var ts []time.Duration
	var width time.Duration
	for _, s := range ph.Series {
		for i, bk := range s.Buckets {
			if i >= len(ops) {
				ops, errs, ts = append(ops, 0), append(errs, 0), append(ts, bk.T)
			}
			ops[i] += float64(bk.Ops)
			errs[i] += float64(bk.Errors)
		}
		if len(s.Buckets) > 1 {
			width = s.Buckets[1].T - s.Buckets[0].T
		}
	}
	if width == 0 {
		width = time.Second
	}
	top := 1.0
	for _, v := range ops {
		top = math.Max(top, v/width.Seconds())
	}
	top = niceCeil(top)
	y := func(v float64) float64 { return padT + float64(innerH)*(1-v/top) }
	var b strings.Builder
	svgOpen(&b, fmt.Sprintf("operations per second, phase %s (errors and unknown outcomes in red)", ph.Name))
	faultBands(&b, x, ph)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="tick" text-anchor="end">%.0f</text>`,
			padL, padL+innerW, y(v), y(v), padL-6, y(v)+4, v)
	}
	timeAxis(&b, x)
	for _, series := range []struct {
		vals  []float64
		color string
		name  string
	}{{ops, "#1f77b4", "ops/s"}, {errs, "#d62728", "errors/s"}} {
		var d strings.Builder
		for i, v := range series.vals {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f,%.1f ", cmd, x.at(ts[i]+width/2), y(v/width.Seconds()))
		}
		fmt.Fprintf(&b, `<path d="%s" stroke="%s" class="p99"/>`, d.String(), series.color)
	}
	legend(&b, 0, "ops/s", "#1f77b4")
	legend(&b, 1, "errors/s", "#d62728")
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func seriesEnd(ph PhaseResult) time.Duration {
	end := ph.End
	for _, s := range ph.Series {
		if n := len(s.Buckets); n > 0 {
			end = max(end, s.Buckets[n-1].T+time.Second)
		}
	}
	return end
}

func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img"><title>%s</title>`,
		plotW, plotH, plotW, plotH, template.HTMLEscapeString(title))
	fmt.Fprintf(b, `<text x="%d" y="18" class="title">%s</text>`, padL, template.HTMLEscapeString(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" class="frame"/>`, padL, padT, innerW, innerH)
}

func timeAxis(b *strings.Builder, x xScale) {
	span := (x.to - x.from).Seconds()
	step := niceCeil(math.Max(span/10, 1))
	for s := 0.0; s <= span; s += step {
		px := x.at(x.from + time.Duration(s*float64(time.Second)))
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/><text x="%.1f" y="%d" class="tick" text-anchor="middle">%.0fs</text>`,
			px, px, padT, padT+innerH, px, padT+innerH+16, (x.from.Seconds() + s))
	}
}

func linePath(s Series, x xScale, y func(Bucket) float64) string {
	var d strings.Builder
	pen := false
	for _, bk := range s.Buckets {
		if bk.Ops == 0 {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&d, "%s%.1f,%.1f ", cmd, x.at(bk.T), y(bk))
		pen = true
	}
	return d.String()
}

func legend(b *strings.Builder, i int, name, color string) {
	lx, ly := plotW-padR+14, padT+8+i*18
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d" class="tick">%s</text>`,
		lx, lx+18, ly, ly, color, lx+24, ly+4, template.HTMLEscapeString(name))
}

// faultBands shades each fault's window and labels it; the end of
// traffic (when the final reads start) is a dashed line.
func faultBands(b *strings.Builder, x xScale, ph PhaseResult) {
	for i, ev := range ph.Faults {
		x0, x1 := x.at(ev.Start), x.at(ev.End)
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		c := faultColors[ev.Kind]
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" class="band"><title>%s %s–%s %s</title></rect>`,
			x0, padT, x1-x0, innerH, c, template.HTMLEscapeString(faultLabel(ev)), fmtDur(ev.Start), fmtDur(ev.End), template.HTMLEscapeString(ev.Detail))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" class="flabel" fill="%s">%s</text>`, x0+2, padT+11+(i%3)*11, c, template.HTMLEscapeString(faultLabel(ev)))
	}
	ex := x.at(ph.End)
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="end"/><text x="%.1f" y="%d" class="tick">final reads</text>`,
		ex, ex, padT, padT+innerH, ex+3, padT+innerH-4)
}

func statusClass(s Status) string {
	switch s {
	case Passed:
		return "pass"
	case Skipped:
		return "skip"
	case Warning:
		return "warn"
	}
	return "fail"
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"lat": fmtLat, "dur": fmtDur, "codes": fmtCodes, "latplot": latencyPlot, "tputplot": throughputPlot,
	"describe": describe, "cls": statusClass, "label": faultLabel,
	"round": func(d time.Duration) time.Duration { return d.Round(time.Second) },
	"span":  func(ph PhaseResult) time.Duration { return (ph.End - ph.Start).Round(time.Second) },
}).Parse(reportHTML))
