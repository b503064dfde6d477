package edge_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/internal/bigbody"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// heapPeak samples the heap of the whole test process (server and client)
// until stop is called, which returns the peak growth over the heap at the
// start. The GC runs at 10% growth meanwhile, so garbage (buffers the race
// detector keeps out of sync.Pools) cannot pass for retained memory. The
// test using it must not run in parallel.
func heapPeak() (stop func() uint64) {
	gcPercent := debug.SetGCPercent(10)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done, out := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				out <- peak - base
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	}()
	return func() uint64 {
		close(done)
		debug.SetGCPercent(gcPercent)
		return <-out
	}
}

// A 200 MB payload streams through enqueue and dequeue: neither the server
// nor this client holds it in memory.
func TestQueueLargePayloadStreams(t *testing.T) {
	const size = 200 << 20
	// Not parallel: the allocation counters are process-wide.
	s := edgetest.Start(t, edgetest.Disk, server.Config{})

	src := bigbody.NewPattern(size)
	ctype, stream := bigbody.Enqueue("big", src)
	peak := heapPeak()
	resp, err := s.Client.Post(s.URL()+"/v1/queue/enqueue", ctype, stream)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("enqueue: %d %s", resp.StatusCode, body)
	}
	enqAlloc := peak()
	var enq api.EnqueueResponse
	json.Unmarshal(body, &enq)
	if enq.PayloadBytes != size {
		t.Fatalf("payload_bytes %d", enq.PayloadBytes)
	}

	peak = heapPeak()
	req, _ := json.Marshal(map[string]any{"queue": "big", "owner": "w"})
	resp, err = s.Client.Post(s.URL()+"/v1/queue/dequeue", "application/json", bytes.NewReader(req))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dequeue: %v %v", resp, err)
	}
	defer resp.Body.Close()
	dr, payload, err := bigbody.Delivery(resp)
	if err != nil {
		t.Fatal(err)
	}
	if payload.Header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("payload part headers %v", payload.Header)
	}
	got := sha256.New()
	n, err := io.Copy(got, payload)
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), src.Sum()) {
		t.Fatalf("payload: %d bytes, err %v, hash match %v", n, err, bytes.Equal(got.Sum(nil), src.Sum()))
	}
	deqAlloc := peak()
	t.Logf("heap growth while streaming 200 MB: enqueue %d MiB, dequeue %d MiB", enqAlloc>>20, deqAlloc>>20)
	if enqAlloc > size/4 || deqAlloc > size/4 {
		t.Fatalf("payload was buffered: heap grew %d MiB on enqueue, %d MiB on dequeue", enqAlloc>>20, deqAlloc>>20)
	}
	r := s.Do("POST", "/v1/queue/ack", ackBody(dr.Message))
	if r.Status != 200 {
		t.Fatalf("ack: %d %s", r.Status, r.Body)
	}
}
