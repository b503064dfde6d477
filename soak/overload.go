package soak

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Overload makes a phase an overload test: for Peak the workers offer
// far more than the server can serve (over a slow object store), then
// the load drops to CooldownWorkers at CooldownRate. Its verdicts: the
// excess is refused with 429 throttled carrying Retry-After and
// X-Lockd-QRF-State; the p99 latency of admitted requests stays under
// P99Bound; the server's RSS stays under RSSBound; and within
// RecoverWithin of the drop nothing is refused any more.
type Overload struct {
	Peak            time.Duration `json:"peak"`
	CooldownWorkers int           `json:"cooldown_workers"`
	CooldownRate    float64       `json:"cooldown_rate"`
	// StoreLatency (plus up to StoreJitter) is added to every chunk the
	// node exchanges with its object store ("s3" phases).
	StoreLatency time.Duration `json:"store_latency"`
	StoreJitter  time.Duration `json:"store_jitter"`
	// ServerArgs are the node's admission flags (--qrf-*).
	ServerArgs    []string      `json:"server_args"`
	RSSBound      uint64        `json:"rss_bound"`
	P99Bound      time.Duration `json:"p99_bound"`
	RecoverWithin time.Duration `json:"recover_within"`
}

// overloadProfile is the "overload" profile: one phase on a slow S3
// store, 200 workers without a rate limit for the peak, 4 workers at 40
// operations a second afterwards. Its op count is bounded by MaxOps and
// the phase by its duration.
func overloadProfile(p *Profile) {
	p.Workers, p.Consumers, p.Keys, p.HotKeys, p.TxnGroups = 200, 4, 64, 1, 4
	p.PayloadBytes, p.Rate, p.MaxOps = 256, 0, 60_000
	p.Mix = Mix{Cycle: 45, Read: 25, Query: 5, Enqueue: 25}
	p.HTTPTimeout = 15 * time.Second
	// Behind the slow store proxy a delivery takes ~0.5 s to settle and
	// the peak leaves a few hundred messages: the default bound (34 s)
	// ends the drain with the queue half full.
	p.DrainBound = 2 * time.Minute
	p.Overload = &Overload{
		Peak: 25 * time.Second, CooldownWorkers: 4, CooldownRate: 40,
		StoreLatency: 10 * time.Millisecond, StoreJitter: 30 * time.Millisecond,
		ServerArgs: []string{"--qrf-lock-soft-limit", "16", "--qrf-lock-hard-limit", "32",
			"--qrf-queue-soft-limit", "16", "--qrf-queue-hard-limit", "32",
			"--qrf-query-soft-limit", "2", "--qrf-query-hard-limit", "4",
			"--qrf-max-wait", "1s", "--qrf-recovery-samples", "3"},
		RSSBound: 512 << 20, P99Bound: 8 * time.Second, RecoverWithin: 5 * time.Second,
	}
	p.Phases = []Phase{{Name: "overload", Store: "s3", Duration: 40 * time.Second}}
}

// throttleWatch counts the 429 answers the workers get and hands each
// worker its Retry-After, so that it waits like a well-behaved client.
type throttleWatch struct {
	next http.RoundTripper
	// total 429s, those with a Retry-After of at least one second, and
	// those naming the QRF state.
	total, retryAfter, state atomic.Int64
}

type workerKey struct{}

// withWorker marks ctx as w's, for throttleWatch.
func withWorker(ctx context.Context, w *worker) context.Context {
	return context.WithValue(ctx, workerKey{}, w)
}

func (t *throttleWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	t.total.Add(1)
	secs, perr := strconv.Atoi(resp.Header.Get("Retry-After"))
	if perr == nil && secs >= 1 {
		t.retryAfter.Add(1)
	}
	if resp.Header.Get("X-Lockd-QRF-State") != "" {
		t.state.Add(1)
	}
	if w, ok := r.Context().Value(workerKey{}).(*worker); ok && secs >= 1 {
		w.retryAfter.Store(int64(min(secs, 5)) * int64(time.Second))
	}
	return resp, err
}

// usage is one sample of the node: its RSS and the QRF state it reports.
type usage struct {
	T   time.Duration `json:"t"`
	RSS uint64        `json:"rss"`
	QRF float64       `json:"qrf"` // lockd_qrf_state: 0 disengaged … 3 recovery; -1 unknown
}

// usageSampler samples the node every 250ms while a phase runs.
type usageSampler struct {
	n       *node
	metrics string // host:port of the node's /metrics
	rec     *Recorder
	mu      sync.Mutex
	samples []usage
}

func (s *usageSampler) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		u := usage{T: s.rec.Now(), RSS: s.rss(), QRF: s.qrfState(hc)}
		s.mu.Lock()
		s.samples = append(s.samples, u)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *usageSampler) rss() uint64 {
	s.n.mu.Lock()
	pid := 0
	if s.n.cmd != nil && s.n.cmd.Process != nil {
		pid = s.n.cmd.Process.Pid
	}
	s.n.mu.Unlock()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || pid == 0 {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func (s *usageSampler) qrfState(hc *http.Client) float64 {
	resp, err := hc.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "lockd_qrf_state "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func (s *usageSampler) all() []usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]usage(nil), s.samples...)
}

// admittedKinds are the operations whose latency the overload bound
// covers: single requests that neither wait by design (dequeue long-polls,
// blocking acquires of hot keys) nor consist of many.
var admittedKinds = map[Kind]bool{KindAcquire: true, KindLeaseGet: true, KindCycle: true, KindRollback: true,
	KindRead: true, KindQuery: true, KindEnqueue: true, KindAck: true, KindNack: true}

// window is the ops of admittedKinds that started in [from, to).
func window(ops []Op, from, to time.Duration) (admitted []time.Duration, throttled, unknown int) {
	for _, op := range ops {
		if op.Call < from || op.Call >= to || !admittedKinds[op.Kind] {
			continue
		}
		if op.Code == "throttled" {
			throttled++
			continue
		}
		if op.Outcome == Unknown {
			unknown++
		}
		admitted = append(admitted, op.Latency())
	}
	return admitted, throttled, unknown
}

// overloadVerdicts judges an overload phase: ops of the phase, the
// offset where the peak ended and the traffic ended, the 429s the
// workers saw and the node's samples.
func overloadVerdicts(phase string, ov *Overload, ops []Op, start, peakEnd, end time.Duration, tw *throttleWatch, samples []usage) []Verdict {
	var out []Verdict
	lat, throttled, unknown := window(ops, start, peakEnd)
	p50, p99, mx := percentiles(lat)

	v := Verdict{Check: "overload-throttling", Phase: phase, Status: Passed, Checked: int(tw.total.Load()),
		Invariant: "excess load is refused with 429 throttled, each with a Retry-After of at least 1s and X-Lockd-QRF-State"}
	v.Summary = fmt.Sprintf("%d of %d operations refused during the %s peak; %d 429s in all, %d with Retry-After, %d with the QRF state",
		throttled, throttled+len(lat), fmtDur(peakEnd-start), tw.total.Load(), tw.retryAfter.Load(), tw.state.Load())
	if throttled == 0 {
		v.fail(Failure{Message: "the peak was never throttled: the load did not exceed what the server admits"})
	}
	if tw.retryAfter.Load() != tw.total.Load() || tw.state.Load() != tw.total.Load() {
		v.fail(Failure{Message: "a 429 lacked Retry-After or X-Lockd-QRF-State"})
	}
	out = append(out, v)

	v = Verdict{Check: "overload-latency", Phase: phase, Status: Passed, Checked: len(lat),
		Invariant: fmt.Sprintf("admitted requests keep a bounded p99 latency under overload (≤ %s)", ov.P99Bound)}
	v.Summary = fmt.Sprintf("admitted during the peak: %d ops (%d without a definite answer), p50 %s p99 %s max %s",
		len(lat), unknown, fmtDur(p50), fmtDur(p99), fmtDur(mx))
	if len(lat) == 0 || p99 > ov.P99Bound {
		v.fail(Failure{Message: fmt.Sprintf("p99 %s over the bound %s (%d ops)", p99, ov.P99Bound, len(lat))})
	}
	out = append(out, v)

	var maxRSS, firstRSS uint64
	for _, s := range samples {
		if firstRSS == 0 {
			firstRSS = s.RSS
		}
		maxRSS = max(maxRSS, s.RSS)
	}
	v = Verdict{Check: "overload-rss", Phase: phase, Status: Passed, Checked: len(samples),
		Invariant: fmt.Sprintf("the server's memory stays bounded under overload (RSS ≤ %d MiB)", ov.RSSBound>>20)}
	v.Summary = fmt.Sprintf("RSS %.1f MiB at start, %.1f MiB at most (%d samples)", float64(firstRSS)/(1<<20), float64(maxRSS)/(1<<20), len(samples))
	if maxRSS == 0 || maxRSS > ov.RSSBound {
		v.fail(Failure{Message: v.Summary})
	}
	out = append(out, v)

	settled := peakEnd + ov.RecoverWithin
	lat, throttled, unknown = window(ops, settled, end)
	p50, p99, mx = percentiles(lat)
	lastThrottle := time.Duration(0)
	for _, op := range ops {
		if op.Code == "throttled" && op.Call >= peakEnd {
			lastThrottle = max(lastThrottle, op.Call-peakEnd)
		}
	}
	v = Verdict{Check: "overload-recovery", Phase: phase, Status: Passed, Checked: len(lat) + throttled,
		Invariant: fmt.Sprintf("once the load drops, nothing is refused after %s and latency is back to normal", ov.RecoverWithin)}
	v.Summary = fmt.Sprintf("after the drop: last 429 %s in, then %d ops (%d refused, %d without answer), p50 %s p99 %s max %s; QRF state %s",
		fmtDur(lastThrottle), len(lat)+throttled, throttled, unknown, fmtDur(p50), fmtDur(p99), fmtDur(mx), qrfTrail(samples, peakEnd))
	if throttled > 0 || len(lat) == 0 || p99 > ov.P99Bound {
		v.fail(Failure{Message: v.Summary})
	}
	out = append(out, v)
	return out
}

// qrfTrail renders the QRF states the node reported from the drop on.
func qrfTrail(samples []usage, from time.Duration) string {
	names := map[float64]string{-1: "?", 0: "disengaged", 1: "soft_arm", 2: "engaged", 3: "recovery"}
	var parts []string
	last := -2.0
	for _, s := range samples {
		if s.T < from || s.QRF == last {
			continue
		}
		last = s.QRF
		parts = append(parts, fmt.Sprintf("%s@+%s", names[s.QRF], fmtDur(s.T-from)))
	}
	if len(parts) == 0 {
		return "not sampled"
	}
	return strings.Join(parts, " → ")
}

// overloadRun is an overload phase's machinery: the end of the peak and
// the node's samples. Its methods do nothing for other profiles.
type overloadRun struct {
	ov      *Overload
	tr      *traffic
	rec     *Recorder
	timer   *time.Timer
	smp     *usageSampler
	cancel  context.CancelFunc
	peakEnd atomic.Int64 // offset when the peak ended; 0 while it runs
}

// startOverload schedules the end of the peak and starts sampling the
// node; nil when the profile is not an overload test.
func startOverload(ctx context.Context, p *Profile, env *phaseEnv, tr *traffic, rec *Recorder) *overloadRun {
	if p.Overload == nil {
		return nil
	}
	o := &overloadRun{ov: p.Overload, tr: tr, rec: rec}
	o.timer = time.AfterFunc(p.Overload.Peak, func() {
		o.peakEnd.Store(int64(rec.Now()))
		tr.cool()
	})
	if env.node != nil {
		var sctx context.Context
		sctx, o.cancel = context.WithCancel(ctx)
		o.smp = &usageSampler{n: env.node, metrics: env.metrics, rec: rec}
		go o.smp.run(sctx)
	}
	return o
}

// stop ends sampling (and the peak, if the phase ended first).
func (o *overloadRun) stop() {
	if o == nil {
		return
	}
	if o.timer.Stop() {
		o.peakEnd.Store(int64(o.rec.Now()))
	}
	if o.cancel != nil {
		o.cancel()
	}
}

func (o *overloadRun) verdicts(phase string, ops []Op, start, end time.Duration) []Verdict {
	if o == nil {
		return nil
	}
	var samples []usage
	if o.smp != nil {
		samples = o.smp.all()
	}
	return overloadVerdicts(phase, o.ov, ops, start, time.Duration(o.peakEnd.Load()), end, o.tr.throttles, samples)
}
