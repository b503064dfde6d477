package main_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// The domain metrics move as a client drives leases, queues, a
// transaction and attachments against a real process, and a scrape of
// --metrics-listen shows it.
func TestDomainMetrics(t *testing.T) {
	maddr := freePort(t)
	p := startLockd(t, "--store", "disk://"+t.TempDir(), "--metrics-listen", maddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := sdk.New(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scrapeMetrics(t, maddr) // the listener starts right after the server

	// Leases: an acquire, a blocked acquirer that the release hands the
	// key to, a lease that expires under a waiter, a keepalive.
	k1, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-k1", Owner: "a", TTLSeconds: 30}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k1.KeepAlive(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	handed := make(chan *sdk.LeaseSession, 1)
	go func() {
		s, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-k1", Owner: "b", TTLSeconds: 30, BlockSeconds: 20}, sdk.WithoutKeepAlive())
		if err != nil {
			t.Error(err)
		}
		handed <- s
	}()
	waitMetric(t, maddr, "lockd_lease_waiters", 1)
	if err := k1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	k1b := <-handed
	if k1b == nil {
		t.FailNow()
	}
	if err := k1b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-k2", Owner: "a", TTLSeconds: 1}, sdk.WithoutKeepAlive()); err != nil {
		t.Fatal(err)
	}
	k2, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-k2", Owner: "b", TTLSeconds: 30, BlockSeconds: 10}, sdk.WithoutKeepAlive())
	if err != nil { // granted when the first lease expires, about a second later
		t.Fatal(err)
	}
	if err := k2.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// Queue: an ack, a failure that dead-letters, a deferral, a delayed
	// message.
	enq := func(body string, o sdk.EnqueueOptions) {
		if _, err := c.Enqueue(ctx, "m-q", strings.NewReader(body), o); err != nil {
			t.Fatal(err)
		}
	}
	deq := func() *sdk.QueueMessage {
		msg, err := c.Dequeue(ctx, "m-q", sdk.DequeueOptions{Owner: "w", BlockSeconds: sdk.BlockNoWait})
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	enq("first", sdk.EnqueueOptions{})
	enq("fragile", sdk.EnqueueOptions{MaxAttempts: 1})
	enq("later", sdk.EnqueueOptions{Delay: time.Hour})
	if err := deq().Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := deq().Nack(ctx, sdk.NackOptions{}); err != nil {
		t.Fatal(err)
	}
	enq("deferred", sdk.EnqueueOptions{})
	if err := deq().Nack(ctx, sdk.NackOptions{Intent: api.NackIntentDefer}); err != nil {
		t.Fatal(err)
	}

	// A two-key transaction committed through the coordinator, then
	// replayed.
	ta, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-ta", Owner: "w", TTLSeconds: 30}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-tb", Owner: "w", TTLSeconds: 30, TxnID: ta.TxnID}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*sdk.LeaseSession{ta, tb} {
		if err := s.Save(ctx, map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	parts := []api.TxnParticipant{{Namespace: "default", Key: "m-ta"}, {Namespace: "default", Key: "m-tb"}}
	if d, err := c.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: ta.TxnID, Participants: parts}); err != nil || d.State != sdk.TxnCommit {
		t.Fatalf("commit: %+v %v", d, err)
	}
	if _, err := c.TxnReplay(ctx, ta.TxnID); err != nil {
		t.Fatal(err)
	}

	// Attachments: 1000 bytes in, read back once.
	ka, err := c.Acquire(ctx, api.AcquireRequest{Key: "m-att", Owner: "w", TTLSeconds: 30}, sdk.WithoutKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("x"), 1000)
	if _, err := ka.Attach(ctx, sdk.AttachRequest{Name: "a.bin", Body: bytes.NewReader(blob), Size: int64(len(blob))}); err != nil {
		t.Fatal(err)
	}
	if err := ka.Release(ctx); err != nil {
		t.Fatal(err)
	}
	att, err := c.RetrieveAttachment(ctx, "m-att", sdk.AttachmentSelector{Name: "a.bin"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(att); err != nil || len(got) != len(blob) {
		t.Fatalf("attachment read back: %d bytes, %v", len(got), err)
	}
	att.Close()

	m := scrapeMetrics(t, maddr)
	want := map[string]float64{
		// acquires: k1, its waiter, k2 twice, the two txn keys, m-att
		`lockd_lease_acquire_total`:   7,
		`lockd_lease_handoffs_total`:  2,
		`lockd_lease_expired_total`:   1,
		`lockd_lease_keepalive_total`: 1,
		// releases: k1, its waiter, k2's second lease, m-att, and the two
		// txn keys ended by the decision
		`lockd_lease_release_total`: 6,
		`lockd_lease_waiters`:       0,

		`lockd_queue_enqueue_total`:                                     4,
		`lockd_queue_enqueue_bytes_total`:                               float64(len("first") + len("fragile") + len("later") + len("deferred")),
		`lockd_queue_dequeue_total`:                                     3,
		`lockd_queue_dequeue_bytes_total`:                               float64(len("first") + len("fragile") + len("deferred")),
		`lockd_queue_ack_total`:                                         1,
		`lockd_queue_nack_total`:                                        2,
		`lockd_queue_dead_letter_total{reason="max_attempts_exceeded"}`: 1,
		`lockd_queue_messages{state="ready"}`:                           1,
		`lockd_queue_messages{state="delayed"}`:                         1,
		`lockd_queue_messages{state="in_flight"}`:                       0,
		`lockd_queue_messages{state="dead_letter"}`:                     1,
		`lockd_queue_backlog`:                                           2,

		`lockd_txn_decisions_recorded_total{state="commit"}`: 1,
		`lockd_txn_apply_applied_total`:                      4, // the commit's two keys, and again on replay
		`lockd_txn_apply_failed_total`:                       0,
		`lockd_txn_replays_total`:                            1,
		`lockd_txn_fanout_duration_seconds_count`:            2,

		`lockd_attachments_attach_total`:         1,
		`lockd_attachments_attach_bytes_total`:   1000,
		`lockd_attachments_retrieve_total`:       1,
		`lockd_attachments_retrieve_bytes_total`: 1000,
	}
	for name, v := range want {
		got, ok := m[name]
		if !ok {
			t.Errorf("%s not exported", name)
		} else if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if age := m[`lockd_queue_oldest_ready_age_seconds`]; age <= 0 || age > 60 {
		t.Errorf("lockd_queue_oldest_ready_age_seconds = %v, want the age of the deferred message", age)
	}
	// QRF follows the host (a loaded machine may engage it): the state
	// gauge and the one-hot series agree.
	states := []string{"disengaged", "soft_arm", "engaged", "recovery"}
	qs, ok := m[`lockd_qrf_state`]
	if !ok || qs < 0 || int(qs) >= len(states) {
		t.Errorf("lockd_qrf_state = %v (exported %v)", qs, ok)
	} else {
		for i, st := range states {
			want := 0.0
			if i == int(qs) {
				want = 1
			}
			if got := m[`lockd_qrf_state_active{state="`+st+`"}`]; got != want {
				t.Errorf("lockd_qrf_state_active{state=%q} = %v with lockd_qrf_state %v", st, got, qs)
			}
		}
	}
	ops := 0.0
	for name, v := range m {
		if strings.HasPrefix(name, `lockd_store_operations_total{`) {
			ops += v
		}
	}
	if ops == 0 || m[`lockd_disk_fsyncs_total`] == 0 {
		t.Errorf("store operations %v, fsyncs %v: want both counted on disk://", ops, m[`lockd_disk_fsyncs_total`])
	}
}

// scrapeMetrics reads /metrics into series -> value, waiting up to 10s for
// the listener.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			defer resp.Body.Close()
			out := map[string]float64{}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				if line == "" || line[0] == '#' {
					continue
				}
				i := strings.LastIndexByte(line, ' ')
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				out[line[:i]] = v
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitMetric scrapes until series has value v (10s at most).
func waitMetric(t *testing.T, addr, series string, v float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := scrapeMetrics(t, addr)
		if m[series] == v {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 10s, want %v", series, m[series], v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
