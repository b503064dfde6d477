package main_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/bigbody"
)

// rssMiB reads the resident set of a process from /proc.
func rssMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// rssPeak samples the server's RSS every 10ms until stop is called, which
// returns the peak.
func rssPeak(p *proc) (stop func() float64) {
	done, out := make(chan struct{}), make(chan float64)
	go func() {
		peak := 0.0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				out <- peak
				return
			case <-tick.C:
				if v, err := rssMiB(p.cmd.Process.Pid); err == nil {
					peak = max(peak, v)
				}
			}
		}
	}()
	return func() float64 { close(done); return <-out }
}

// RSS above this during a transfer means the server buffered the body.
const rssBudgetMiB = 160

// A 1 GiB attachment uploads and downloads through the real binary with
// the server's RSS far below its size, and reads back byte for byte.
func TestOneGiBAttachmentKeepsServerRSSLow(t *testing.T) {
	const size = 1 << 30
	p := startLockd(t, "--store", "disk://"+t.TempDir())
	base, err := rssMiB(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	h, err := acquireKey(p.URL, "big")
	if err != nil {
		t.Fatal(err)
	}
	src := bigbody.NewPattern(size)
	req, _ := http.NewRequest("POST", p.URL+"/v1/attachments?key=big&name=blob.bin", src)
	req.ContentLength = size
	req.Header.Set("X-Expected-Bytes", strconv.Itoa(size))
	hd := h.headers()
	for i := 0; i < len(hd); i += 2 {
		req.Header.Set(hd[i], hd[i+1])
	}
	stop := rssPeak(p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	upPeak := stop()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	if err := h.release(p.URL); err != nil {
		t.Fatal(err)
	}

	stop = rssPeak(p)
	get, err := http.Get(p.URL + "/v1/attachment?public=1&key=big&name=blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, get.Body)
	get.Body.Close()
	downPeak := stop()
	if err != nil || get.StatusCode != 200 || n != size {
		t.Fatalf("download: status %d, %d bytes, %v", get.StatusCode, n, err)
	}
	if !bytes.Equal(sum.Sum(nil), src.Sum()) {
		t.Fatal("downloaded attachment differs from the upload")
	}
	t.Logf("server RSS: %.0f MiB at start, peak %.0f MiB uploading and %.0f MiB downloading 1024 MiB", base, upPeak, downPeak)
	if upPeak > rssBudgetMiB || downPeak > rssBudgetMiB {
		t.Fatalf("server RSS peaked at %.0f MiB (upload) / %.0f MiB (download) for a 1024 MiB attachment; budget %d MiB", upPeak, downPeak, rssBudgetMiB)
	}
}

// A 200 MB queue payload enqueues and dequeues through the real binary with
// the server's RSS far below its size.
func TestLargeQueuePayloadKeepsServerRSSLow(t *testing.T) {
	const size = 200 << 20
	p := startLockd(t, "--store", "disk://"+t.TempDir())
	src := bigbody.NewPattern(size)
	ctype, stream := bigbody.Enqueue("big", src)
	stop := rssPeak(p)
	resp, err := http.Post(p.URL+"/v1/queue/enqueue", ctype, stream)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	enqPeak := stop()
	if resp.StatusCode != 200 {
		t.Fatalf("enqueue: %d %s", resp.StatusCode, body)
	}

	stop = rssPeak(p)
	// Streaming 200 MiB can take over a minute on a loaded CI machine; the
	// visibility window must outlast it or the ack finds the lease lapsed.
	req, _ := json.Marshal(map[string]any{"queue": "big", "owner": "w", "wait_seconds": 5, "visibility_timeout_seconds": 600})
	resp, err = http.Post(p.URL+"/v1/queue/dequeue", "application/json", bytes.NewReader(req))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dequeue: %v %v", resp, err)
	}
	defer resp.Body.Close()
	dr, payload, err := bigbody.Delivery(resp)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, payload)
	deqPeak := stop()
	if err != nil || n != size || !bytes.Equal(sum.Sum(nil), src.Sum()) {
		t.Fatalf("dequeued payload: %d bytes, %v, same bytes %v", n, err, bytes.Equal(sum.Sum(nil), src.Sum()))
	}
	m := dr.Message
	ack, _ := json.Marshal(map[string]any{"queue": "big", "message_id": m.MessageID, "lease_id": m.LeaseID,
		"fencing_token": m.FencingToken, "meta_etag": m.MetaETag})
	st, ab, err := post(p.URL, "/v1/queue/ack", string(ack))
	if err != nil || st != 200 {
		t.Fatalf("ack: %d %s %v", st, ab, err)
	}
	t.Logf("server RSS peak: %.0f MiB enqueuing, %.0f MiB dequeuing a 200 MiB payload", enqPeak, deqPeak)
	if enqPeak > rssBudgetMiB || deqPeak > rssBudgetMiB {
		t.Fatalf("server RSS peaked at %.0f / %.0f MiB for a 200 MiB payload; budget %d MiB", enqPeak, deqPeak, rssBudgetMiB)
	}
}
