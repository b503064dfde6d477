package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The queue scenario measures producers enqueuing 256-byte JSON messages
// while consumers dequeue and ack them, and the latency for a consumer
// already waiting to receive a new message.

// queueClient talks to the queue endpoints.
type queueClient struct {
	hc    *fasthttp.HostClient
	queue string
}

func newQueueClient(t *target, conns int, queue string) *queueClient {
	return &queueClient{hc: &fasthttp.HostClient{Addr: t.addr, MaxConns: conns, ReadTimeout: time.Minute}, queue: queue}
}

func (q *queueClient) post(path, ctype string, body []byte) (int, string, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + q.hc.Addr + path)
	req.Header.SetMethod("POST")
	req.Header.SetContentType(ctype)
	req.SetBody(body)
	if err := q.hc.Do(req, resp); err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode(), string(resp.Header.ContentType()), append([]byte(nil), resp.Body()...), nil
}

// message256 is a 256-byte JSON document carrying its send time.
func message256(sent time.Time) []byte {
	b := fmt.Appendf(nil, `{"sent_unix_nano":%d,"pad":"`, sent.UnixNano())
	b = append(b, strings.Repeat("x", 256-len(b)-2)...)
	return append(b, `"}`...)
}

// enqueueBody builds the multipart body once per worker; only the payload
// changes.
func (q *queueClient) enqueue(payload []byte) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormField("meta")
	fmt.Fprintf(w, `{"queue":%q,"payload_content_type":"application/json"}`, q.queue)
	w, _ = mw.CreateFormField("payload")
	w.Write(payload)
	mw.Close()
	st, _, body, err := q.post("/v1/queue/enqueue", mw.FormDataContentType(), buf.Bytes())
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	if st != 200 {
		return fmt.Errorf("enqueue: %d %s", st, body)
	}
	return nil
}

type benchDelivery struct {
	meta    map[string]any
	payload []byte
}

// dequeue returns no deliveries (and no error) when the wait ran out.
func (q *queueClient) dequeue(owner string, wait, page int) ([]benchDelivery, error) {
	req := fmt.Appendf(nil, `{"queue":%q,"owner":%q,"wait_seconds":%d,"page_size":%d}`, q.queue, owner, wait, page)
	st, ctype, body, err := q.post("/v1/queue/dequeue", "application/json", req)
	if err != nil {
		return nil, err
	}
	if st == 409 {
		return nil, nil
	}
	if st != 200 {
		return nil, fmt.Errorf("dequeue: %d %s", st, body)
	}
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, err
	}
	var out []benchDelivery
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var dr struct {
			Message map[string]any `json:"message"`
		}
		if err := json.NewDecoder(p).Decode(&dr); err != nil {
			return nil, err
		}
		pp, err := mr.NextPart()
		if err != nil {
			return nil, err
		}
		data, _ := io.ReadAll(pp)
		out = append(out, benchDelivery{meta: dr.Message, payload: data})
	}
}

func (q *queueClient) ack(m map[string]any) error {
	body, _ := json.Marshal(map[string]any{"queue": m["queue"], "message_id": m["message_id"], "lease_id": m["lease_id"],
		"fencing_token": m["fencing_token"], "meta_etag": m["meta_etag"]})
	st, _, resp, err := q.post("/v1/queue/ack", "application/json", body)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	if st != 200 {
		return fmt.Errorf("ack: %d %s", st, resp)
	}
	return nil
}

// sentAt reads the send time a message256 carries.
func sentAt(payload []byte) (time.Time, bool) {
	var m struct {
		Sent int64 `json:"sent_unix_nano"`
	}
	if json.Unmarshal(payload, &m) != nil || m.Sent == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, m.Sent), true
}

// flowResult is one producers/consumers run.
type flowResult struct {
	enqueued, acked  int64
	enqRate, ackRate float64
	p50, p99         time.Duration
	usage
	err error
}

func (r flowResult) rate() float64 { return r.ackRate }

// msgs is the number of messages the server's CPU is divided by: acked
// messages for lockd (all that were enqueued, after the drain), and for
// the no-op, whose consumers get canned full pages and stop when the
// producers do, its requests over the 2.25 requests a message costs
// (enqueue, a quarter of a dequeue, ack).
func (r flowResult) msgs(noop bool) float64 {
	if noop {
		return (float64(r.enqueued) + 1.25*float64(r.acked)) / 2.25
	}
	return float64(r.acked)
}

func (r flowResult) cpuPerMsg(noop bool) float64 {
	if m := r.msgs(noop); m > 0 {
		return float64(r.cpu.Nanoseconds()) / 1e3 / m
	}
	return 0
}

var queueRuns atomic.Int64

// consumerPage is the consumers' page_size: with 4, a consumer makes 5
// requests per 4 messages, about the producers' 1 per message.
const consumerPage = 4

// flowRun is the shared state of one producers/consumers run.
type flowRun struct {
	pc, cc          *queueClient
	noop            bool
	start           time.Time
	stopProducing   time.Time
	produced, acked atomic.Int64
	lastAck         atomic.Int64 // unix ns of the latest ack
	produceDone     chan struct{}
	errs            chan error
	mu              sync.Mutex
	lats            []time.Duration
}

// flow runs producers and consumers on a fresh queue for -d; consumers
// then drain what was produced (bounded). Latency is enqueue start → ack
// answered.
func flow(t *target, producers, consumers int, noop bool) flowResult {
	name := fmt.Sprintf("bench-%s-%d", strings.ReplaceAll(t.name, " ", "-"), queueRuns.Add(1))
	f := &flowRun{pc: newQueueClient(t, producers, name), cc: newQueueClient(t, consumers, name), noop: noop,
		produceDone: make(chan struct{}), errs: make(chan error, producers+consumers)}
	m := startMeter(t)
	f.start = time.Now()
	f.stopProducing = f.start.Add(*duration)
	var pwg, cwg sync.WaitGroup
	for p := 0; p < producers; p++ {
		pwg.Add(1)
		go func() { defer pwg.Done(); f.produce() }()
	}
	var produceElapsed time.Duration
	go func() { pwg.Wait(); produceElapsed = time.Since(f.start); close(f.produceDone) }()
	for c := 0; c < consumers; c++ {
		cwg.Add(1)
		go func(c int) { defer cwg.Done(); f.consume("c" + strconv.Itoa(c)) }(c)
	}
	cwg.Wait()
	<-f.produceDone
	res := f.result(produceElapsed)
	res.usage = m.done()
	return res
}

func (f *flowRun) produce() {
	for time.Now().Before(f.stopProducing) && f.produced.Load() < *maxOps {
		if err := f.pc.enqueue(message256(time.Now())); err != nil {
			f.errs <- err
			return
		}
		f.produced.Add(1)
	}
}

// consume dequeues and acks until production ended and everything
// produced is acked, or 30 s after production ended.
func (f *flowRun) consume(owner string) {
	var mine []time.Duration
	defer func() { f.mu.Lock(); f.lats = append(f.lats, mine...); f.mu.Unlock() }()
	drainBy := f.stopProducing.Add(30 * time.Second)
	for time.Now().Before(drainBy) {
		select {
		case <-f.produceDone:
			if f.noop || f.acked.Load() >= f.produced.Load() {
				return
			}
		default:
		}
		ds, err := f.cc.dequeue(owner, 1, consumerPage)
		if err != nil {
			f.errs <- err
			return
		}
		for _, d := range ds {
			if err := f.cc.ack(d.meta); err != nil {
				f.errs <- err
				return
			}
			f.acked.Add(1)
			now := time.Now()
			f.lastAck.Store(now.UnixNano())
			if sent, ok := sentAt(d.payload); ok && !f.noop && len(mine) < 1<<20 {
				mine = append(mine, now.Sub(sent))
			}
		}
	}
}

func (f *flowRun) result(produceElapsed time.Duration) flowResult {
	res := flowResult{enqueued: f.produced.Load(), acked: f.acked.Load()}
	res.enqRate = float64(res.enqueued) / produceElapsed.Seconds()
	if la := f.lastAck.Load(); la > 0 {
		res.ackRate = float64(res.acked) / time.Unix(0, la).Sub(f.start).Seconds()
	}
	sort.Slice(f.lats, func(i, j int) bool { return f.lats[i] < f.lats[j] })
	if n := len(f.lats); n > 0 {
		res.p50, res.p99 = f.lats[n/2], f.lats[n*99/100]
	}
	select {
	case res.err = <-f.errs:
	default:
		if !f.noop && res.acked < res.enqueued {
			res.err = fmt.Errorf("%d of %d messages acked", res.acked, res.enqueued)
		}
	}
	return res
}

// runQueue measures producers and consumers against the no-op and each
// target in -rounds interleaved rounds (rows show the median round by
// acks/s, ratios and CPU the medians of per-round figures).
func runQueue(noop *target, targets ...*target) {
	header(fmt.Sprintf("queue: producers enqueue 256 B JSON, consumers dequeue (page_size %d) + ack each (latency: enqueue → ack)", consumerPage),
		"server", "producers/consumers", "enqueued/s", "acked/s", "p50 ms", "p99 ms", "enq of no-op", "ack of no-op",
		"server CPU µs/msg", "CPU of no-op", "commits/msg", "fsyncs/msg")
	all := append([]*target{noop}, targets...)
	for _, n := range queueFlows() {
		res := interleave(*cmpRounds, len(all), func(i int) flowResult { return flow(all[i], n[0], n[1], i == 0) })
		for i, t := range all {
			r := medianRound(res[i])
			line := fmt.Sprintf("| %s | %d/%d | %.0f | %.0f | %s | %s |", t.name, n[0], n[1], r.enqRate, r.ackRate, ms(r.p50), ms(r.p99))
			ratio := func(f func(r flowResult, noop bool) float64) float64 {
				xs := make([]float64, len(res[i]))
				for k := range res[i] {
					xs[k] = f(res[i][k], false) / f(res[0][k], true)
				}
				return mid(xs)
			}
			pct := func(f func(r flowResult, noop bool) float64) string {
				if i == 0 {
					return "—"
				}
				return fmt.Sprintf("%.0f%%", 100*ratio(f))
			}
			line += fmt.Sprintf(" %s | %s |", pct(func(r flowResult, _ bool) float64 { return r.enqRate }),
				pct(func(r flowResult, _ bool) float64 { return r.ackRate }))
			cpus := make([]float64, len(res[i]))
			var acked int64
			var sum counts
			for k, r := range res[i] {
				cpus[k] = r.cpuPerMsg(i == 0)
				acked += r.acked
				sum = sum.plus(r.counts)
			}
			if t.cpu != nil {
				line += fmt.Sprintf(" %.0f |", mid(cpus))
			} else {
				line += " — |"
			}
			if t.cpu != nil && i > 0 {
				line += fmt.Sprintf(" %.2f× |", ratio(flowResult.cpuPerMsg))
			} else {
				line += " — |"
			}
			line += fmt.Sprintf(" %s | %s |", perReq(t, sum.commits, float64(acked)), perReq(t, sum.syncs, float64(acked)))
			for _, r := range res[i] {
				if r.err != nil {
					line += " error: " + r.err.Error()
					break
				}
			}
			fmt.Println(line)
		}
	}
	fmt.Println()
	header("queue: a consumer already waiting receives a new message (enqueue sent → delivery received)",
		"server", "samples", "p50 ms", "p99 ms", "max ms")
	for _, t := range targets {
		fmt.Println(wakeLatency(t))
	}
	fmt.Println()
}

// wakeLatency parks one consumer in a long poll, enqueues once it waits,
// and times enqueue start → delivery received; repeated for -d (at most
// 2000 samples).
func wakeLatency(t *target) string {
	name := fmt.Sprintf("bench-wake-%s-%d", strings.ReplaceAll(t.name, " ", "-"), queueRuns.Add(1))
	pc := newQueueClient(t, 2, name)
	cc := newQueueClient(t, 1, name)
	var lats []time.Duration
	deadline := time.Now().Add(*duration)
	for len(lats) < 2000 && time.Now().Before(deadline) {
		got := make(chan time.Time, 1)
		var derr error
		go func() {
			ds, err := cc.dequeue("waiter", 10, 1)
			at := time.Now()
			if err == nil && len(ds) == 1 {
				err = cc.ack(ds[0].meta)
			} else if err == nil {
				err = fmt.Errorf("no delivery")
			}
			derr = err
			got <- at
		}()
		if err := waitForWaiter(pc); err != nil {
			return fmt.Sprintf("| %s | error: %v |", t.name, err)
		}
		sent := time.Now()
		if err := pc.enqueue(message256(sent)); err != nil {
			return fmt.Sprintf("| %s | error: %v |", t.name, err)
		}
		at := <-got
		if derr != nil {
			return fmt.Sprintf("| %s | error: %v |", t.name, derr)
		}
		lats = append(lats, at.Sub(sent))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) == 0 {
		return fmt.Sprintf("| %s | 0 | — | — | — |", t.name)
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s |", t.name, len(lats), ms(lats[len(lats)/2]), ms(lats[len(lats)*99/100]), ms(lats[len(lats)-1]))
}

// waitForWaiter polls queue stats until the consumer is parked (outside
// the measured interval), for at most 10 s.
func waitForWaiter(q *queueClient) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, _, body, err := q.post("/v1/queue/stats", "application/json", fmt.Appendf(nil, `{"queue":%q}`, q.queue))
		if err != nil {
			return err
		}
		var st struct {
			Waiting int `json:"waiting_consumers"`
		}
		if json.Unmarshal(body, &st) == nil && st.Waiting > 0 {
			return nil
		}
		time.Sleep(100 * time.Microsecond)
	}
	return fmt.Errorf("consumer never waited")
}
