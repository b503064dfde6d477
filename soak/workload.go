package soak

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockdhq/lockd/sdk"
)

// traffic is one phase's load generator: a client with retries off (so
// every recorded operation is exactly one request) and the recorder.
type traffic struct {
	cli *sdk.Client
	// patient is the same client with the SDK's retries on: it honours
	// 429 and 503 Retry-After (and retries transport errors). The final
	// drain reads stats, dequeues and lists dead letters with it; its
	// settlements (acks, nacks) still go through cli, one request each.
	patient *sdk.Client
	hc      *http.Client
	rec     *Recorder
	lay     Layout
	keys    []string // lay.AllKeys(), for public reads
	p       *Profile
	pad     string
	lim     atomic.Pointer[limiter]
	started atomic.Int64 // operations started, bounded by MaxOps
	// throttles counts the 429s the workers get (overload.go).
	throttles *throttleWatch
	// cooled is set when an overload phase's peak ends: workers beyond
	// Overload.CooldownWorkers stop and the rate drops.
	cooled atomic.Bool
	// island is the client of island A (lay.Island's keys) and islandB
	// the phase's backend hash as A knows it; nil and "" without
	// cross-island groups.
	island  *sdk.Client
	islandB string
}

// withIsland routes the layout's island keys to island A at base, which
// knows the phase's store as backend hashB. Like cli, its retries are
// off.
func (t *traffic) withIsland(base, hashB string) error {
	cli, err := sdk.NewWithEndpoints([]string{base},
		sdk.WithHTTPClient(t.hc), sdk.WithRetries(0), sdk.WithHTTPTimeout(t.p.HTTPTimeout),
		sdk.WithDrainAwareShutdown(false), sdk.WithDefaultNamespace(t.lay.Namespace),
		sdk.WithDisableMTLS(true), sdk.WithCloseTimeout(t.p.HTTPTimeout),
		sdk.WithAcquireWaitSlice(t.p.Block+time.Second), sdk.WithUserAgent("lockd-soak"))
	if err != nil {
		return err
	}
	t.island, t.islandB = cli, hashB
	return nil
}

// clientFor is the client that serves key: island A's for its keys.
func (t *traffic) clientFor(key string) *sdk.Client {
	if t.island != nil && t.lay.Island[key] {
		return t.island
	}
	return t.cli
}

// newTraffic builds the client for endpoints. Retries are off: an error
// is what one request did, so outcomes stay precise.
func newTraffic(p *Profile, endpoints []string, rec *Recorder, lay Layout) (*traffic, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	if p.Bundle != "" {
		cfg, err := sdk.LoadBundle(p.Bundle)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	} else {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tw := &throttleWatch{next: tr}
	hc := &http.Client{Transport: tw}
	cli, err := sdk.NewWithEndpoints(endpoints,
		sdk.WithHTTPClient(hc), sdk.WithRetries(0), sdk.WithHTTPTimeout(p.HTTPTimeout),
		sdk.WithDrainAwareShutdown(false), sdk.WithDefaultNamespace(lay.Namespace),
		sdk.WithDisableMTLS(p.Bundle == ""), sdk.WithCloseTimeout(p.HTTPTimeout),
		sdk.WithAcquireWaitSlice(p.Block+time.Second), sdk.WithUserAgent("lockd-soak"))
	if err != nil {
		return nil, err
	}
	patient, err := sdk.NewWithEndpoints(endpoints,
		sdk.WithHTTPClient(hc), sdk.WithRetries(patientRetries), sdk.WithBackoff(100*time.Millisecond, 2*time.Second),
		sdk.WithHTTPTimeout(p.HTTPTimeout), sdk.WithDrainAwareShutdown(false), sdk.WithDefaultNamespace(lay.Namespace),
		sdk.WithDisableMTLS(p.Bundle == ""), sdk.WithCloseTimeout(p.HTTPTimeout), sdk.WithUserAgent("lockd-soak"))
	if err != nil {
		return nil, err
	}
	t := &traffic{cli: cli, patient: patient, hc: hc, rec: rec, lay: lay, keys: lay.AllKeys(), p: p, pad: strings.Repeat("x", p.PayloadBytes),
		throttles: tw}
	t.lim.Store(newLimiter(p.Rate))
	return t, nil
}

// patientRetries bounds the patient client's attempts per call; its
// callers' contexts bound the time.
const patientRetries = 50

func (t *traffic) close() { t.hc.CloseIdleConnections() }

// cool ends an overload phase's peak: from now on only the first
// Overload.CooldownWorkers workers run, at Overload.CooldownRate.
func (t *traffic) cool() {
	t.lim.Store(newLimiter(t.p.Overload.CooldownRate))
	t.cooled.Store(true)
}

// retired reports whether worker w stopped at the end of the peak.
func (t *traffic) retired(w *worker) bool {
	return t.cooled.Load() && w.id < 1000 && w.id >= t.p.Overload.CooldownWorkers
}

// doc is a counter document as stored.
type doc struct {
	Kind string `json:"kind"`
	N    int64  `json:"n"`
	W    string `json:"w"`
	Pad  string `json:"pad,omitempty"`
}

func (t *traffic) encode(v Val) []byte {
	b, _ := json.Marshal(doc{Kind: "ctr", N: v.N, W: v.W, Pad: t.pad})
	return b
}

func decodeVal(b []byte) (Val, error) {
	if len(b) == 0 {
		return Val{}, nil
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return Val{}, fmt.Errorf("soak: decode state %q: %w", shorten(string(b), 80), err)
	}
	return Val{N: d.N, W: d.W}, nil
}

// worker is one traffic goroutine's identity and random stream.
type worker struct {
	id  int
	rng *rand.Rand
	seq int64
	// backoff after an operation without a definite answer, so a downed
	// server is not hammered (pacing, not waiting for a condition).
	backoff time.Duration
	// retryAfter is the server's last Retry-After (nanoseconds), set by
	// throttleWatch: the worker waits it out like a well-behaved client.
	retryAfter atomic.Int64
}

// tag returns a fresh writer id, unique within the run.
func (w *worker) tag(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s%d.%d", prefix, w.id, w.seq)
}

func (w *worker) pause(ctx context.Context, uncertain bool) {
	if d := time.Duration(w.retryAfter.Swap(0)); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d): // the server asked for it (429 Retry-After)
		}
		return
	}
	if !uncertain {
		w.backoff = 0
		return
	}
	w.backoff = min(max(2*w.backoff, 20*time.Millisecond), 500*time.Millisecond)
	d := w.backoff/2 + time.Duration(w.rng.Int64N(int64(w.backoff/2)+1))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// run drives the mix with p.Workers goroutines until stop ends or MaxOps
// operations started, and the queue consumers alongside. Requests run
// under ctx, so those in flight when stop ends finish normally (each is
// bounded by the client's HTTP timeout).
func (t *traffic) run(stop, ctx context.Context, seed, phase uint64) {
	var wg sync.WaitGroup
	for i := 0; i < t.p.Workers; i++ {
		w := &worker{id: i, rng: newRand(seed, phase^uint64(i))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.loop(stop, ctx, w)
		}()
	}
	if t.p.Mix.Enqueue > 0 {
		for i := 0; i < t.p.Consumers; i++ {
			w := &worker{id: 1000 + i, rng: newRand(seed, phase^uint64(1000+i))}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.consume(stop, ctx, w)
			}()
		}
	}
	wg.Wait()
}

func (t *traffic) loop(stop, ctx context.Context, w *worker) {
	ctx = withWorker(ctx, w)
	for stop.Err() == nil && t.started.Add(1) <= t.p.MaxOps {
		if t.retired(w) || !t.lim.Load().wait(stop) {
			return
		}
		var uncertain bool
		switch t.p.Mix.pick(w.rng) {
		case "cycle":
			uncertain = t.cycle(ctx, w, t.lay.Counters[w.rng.IntN(len(t.lay.Counters))], sdk.BlockNoWait, 0)
		case "hot":
			uncertain = t.cycle(ctx, w, t.lay.Hot[w.rng.IntN(len(t.lay.Hot))], int64(t.p.Block/time.Second), 0)
		case "txn":
			uncertain = t.txn(ctx, w)
		case "read":
			uncertain = t.read(ctx, w)
		case "query":
			uncertain = t.query(ctx, w)
		case "enqueue":
			uncertain = t.enqueue(ctx, w)
		}
		w.pause(stop, uncertain)
	}
}

// limiter paces operation starts to a global rate (0: unlimited).
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return &limiter{}
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's slot; false when ctx ended first.
func (l *limiter) wait(ctx context.Context) bool {
	if l.interval == 0 {
		return ctx.Err() == nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(at)):
		return true
	}
}

// newRand returns the random stream of one worker of one run.
func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// phaseStream derives a phase's random streams from its name, so that
// selecting phases (-phases disk) replays the same schedule for each.
func phaseStream(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64() &^ 0xFFFF // low bits are left for the worker index
}
