package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

var client = &http.Client{Timeout: 30 * time.Second}

func post(base, path string, body any, headers ...string) (int, []byte, error) {
	var data []byte
	switch b := body.(type) {
	case string:
		data = []byte(b)
	case nil:
	default:
		data, _ = json.Marshal(b)
	}
	// A request the server shed (429: admission control on a machine
	// busy with other tests) is sent again after a pause, as a client
	// would; nothing was done for it. Bounded: 30 s of retries.
	for tries := 0; ; tries++ {
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(data))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && tries < 300 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		return resp.StatusCode, out, err
	}
}

type held struct {
	api.AcquireResponse
}

func acquireKey(base, key string) (held, error) {
	st, body, err := post(base, "/v1/acquire", api.AcquireRequest{Key: key, Owner: "crash-test", TTLSeconds: 300})
	if err != nil || st != 200 {
		return held{}, fmt.Errorf("acquire %s: %d %s %v", key, st, body, err)
	}
	var h held
	return h, json.Unmarshal(body, &h.AcquireResponse)
}

func (h held) headers() []string {
	return []string{api.HeaderLeaseID, h.LeaseID, api.HeaderTxnID, h.TxnID, api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10)}
}

func (h held) update(base, doc string) error {
	st, body, err := post(base, "/v1/update?key="+h.Key, doc, h.headers()...)
	if err != nil || st != 200 {
		return fmt.Errorf("update %s: %d %s %v", h.Key, st, body, err)
	}
	return nil
}

func (h held) release(base string) error {
	st, body, err := post(base, "/v1/release", api.ReleaseRequest{Key: h.Key, LeaseID: h.LeaseID, TxnID: h.TxnID},
		api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10))
	if err != nil || st != 200 {
		return fmt.Errorf("release %s: %d %s %v", h.Key, st, body, err)
	}
	return nil
}

// crashLoadFlag turns admission control off in the kill -9 tests: they
// prove durability under load, and on a CI machine whose two cores are
// saturated by other test packages the host CPU guard would shed most of
// their requests (once, 280 enqueues in 60 s). Admission control has
// its own tests (edge/admission, admission_flags_test.go).
const crashLoadFlag = "--qrf-disabled"

// workerErrs records why load workers stopped before they were told to,
// for the failure message of a test whose load fell short.
type workerErrs struct {
	mu   sync.Mutex
	errs []string
}

// note records err unless stop is closed (errors after the kill are
// expected).
func (w *workerErrs) note(stop <-chan struct{}, err error) {
	select {
	case <-stop:
		return
	default:
	}
	w.mu.Lock()
	w.errs = append(w.errs, err.Error())
	w.mu.Unlock()
}

func (w *workerErrs) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return "no worker stopped on an error"
	}
	return fmt.Sprintf("%d workers stopped on errors, first: %s", len(w.errs), w.errs[0])
}

// Every release that answered 200 before kill -9 is visible after restart.
func TestAcknowledgedReleasesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p := startLockd(t, "--store", "disk://"+dir, crashLoadFlag)
	var acked sync.Map // key -> doc
	var count atomic.Int64
	var quit workerErrs
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				doc := fmt.Sprintf(`{"worker":%d,"i":%d}`, w, i)
				h, err := acquireKey(p.URL, key)
				if err == nil {
					err = h.update(p.URL, doc)
				}
				if err == nil {
					err = h.release(p.URL)
				}
				if err != nil {
					quit.note(stop, err)
					return
				}
				acked.Store(key, doc)
				count.Add(1)
			}
		}(w)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.kill() // mid-flight: workers are between requests
	close(stop)
	wg.Wait()
	if count.Load() < 300 {
		t.Fatalf("only %d cycles before the deadline; %s", count.Load(), quit.String())
	}
	p = startLockd(t, "--store", "disk://"+dir, crashLoadFlag)
	missing := 0
	acked.Range(func(k, v any) bool {
		st, body, err := post(p.URL, "/v1/get?public=1&key="+k.(string), nil)
		if err != nil || st != 200 || string(body) != v.(string) {
			missing++
			t.Errorf("acknowledged release of %s lost: %d %q %v", k, st, body, err)
		}
		return missing < 10
	})
	t.Logf("%d acknowledged releases checked after kill -9", count.Load())
}

// A lease and its staged write outlive a crash; fencing keeps increasing.
func TestLeaseStagedAndFencingSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p := startLockd(t, "--store", "disk://"+dir)
	h, err := acquireKey(p.URL, "job")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.update(p.URL, `{"step":1}`); err != nil {
		t.Fatal(err)
	}
	p.kill()
	p = startLockd(t, "--store", "disk://"+dir)
	st, body, _ := post(p.URL, "/v1/get?key=job", nil, h.headers()...)
	if st != 200 || string(body) != `{"step":1}` {
		t.Fatalf("staged write after restart: %d %s", st, body)
	}
	if err := h.update(p.URL, `{"step":2}`); err != nil {
		t.Fatalf("holder lost its lease in the crash: %v", err)
	}
	if err := h.release(p.URL); err != nil {
		t.Fatal(err)
	}
	p.stop(t) // graceful this time
	p = startLockd(t, "--store", "disk://"+dir)
	st, body, _ = post(p.URL, "/v1/get?key=job&public=1", nil)
	if st != 200 || string(body) != `{"step":2}` {
		t.Fatalf("commit after restart: %d %s", st, body)
	}
	next, err := acquireKey(p.URL, "job")
	if err != nil || next.FencingToken != h.FencingToken+1 {
		t.Fatalf("fencing after restarts: %d (was %d) %v", next.FencingToken, h.FencingToken, err)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
