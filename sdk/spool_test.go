package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/server"
)

// errCut is the failure cuttingProxy injects into a response body.
var errCut = errors.New("test: response cut")

// failAfter reads r and fails with errCut once n bytes went through.
type failAfter struct {
	r io.ReadCloser
	n int64
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errCut
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func (f *failAfter) Close() error { return f.r.Close() }

// cuttingProxy forwards to target, but the body of the first response to
// a request whose path ends in suffix fails after limit bytes, so the
// client's connection breaks in the middle of a payload.
func cuttingProxy(t *testing.T, target, suffix string, limit int64) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var cuts atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, suffix) && resp.StatusCode == http.StatusOK && cuts.Add(1) == 1 {
			resp.Body = &failAfter{r: resp.Body, n: limit}
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv, &cuts
}

// bigPayload is random bytes past the SDK's 4 MiB in-memory spool.
func bigPayload() []byte {
	p := make([]byte, 6<<20)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(p)
	return p
}

// A subscription whose stream breaks in the middle of a large payload,
// after the part the SDK keeps in memory, never hands the cut-off message
// to the handler: the handler only ever sees the whole payload, once the
// message is redelivered on the next stream.
func TestSubscribeNeverHandsOverACutPayload(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	proxy, cuts := cuttingProxy(t, ts.Endpoint, "/v1/queue/subscribe", 5<<20)
	c := newClient(t, proxy.URL)
	ctx := testCtx(t)
	payload := bigPayload()
	want := sha256.Sum256(payload)
	if _, err := c.Enqueue(ctx, "big", bytes.NewReader(payload), sdk.EnqueueOptions{MaxAttempts: 5}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		handled  []string
		streamEr []error
		done     = make(chan struct{})
	)
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	handler := func(_ context.Context, m *sdk.QueueMessage) error {
		body, err := io.ReadAll(m)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || sha256.Sum256(body) != want {
			handled = append(handled, fmt.Sprintf("attempt %d: %d of %d bytes, %v", m.Attempts(), len(body), len(payload), err))
			return errors.New("bad payload")
		}
		handled = append(handled, "ok")
		close(done)
		return nil
	}
	onError := func(err error) { mu.Lock(); streamEr = append(streamEr, err); mu.Unlock() }
	errc := make(chan error, 1)
	go func() {
		errc <- c.Subscribe(subCtx, "big", sdk.ConsumerOptions{Owner: "c", OnError: onError}, handler)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the whole payload never reached the handler; handled %v, stream errors %v", handled, streamEr)
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if cuts.Load() == 0 || len(streamEr) == 0 {
		t.Fatalf("the stream was not cut (cuts %d, errors %v)", cuts.Load(), streamEr)
	}
	if len(handled) != 1 {
		t.Fatalf("handler calls %v, want only the whole payload", handled)
	}
}

// A DequeueBatch whose answer breaks in the middle of a large payload
// fails; it never returns a message holding part of its payload.
func TestDequeueBatchFailsOnACutPayload(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	proxy, cuts := cuttingProxy(t, ts.Endpoint, "/v1/queue/dequeue", 5<<20)
	c := newClient(t, proxy.URL)
	ctx := testCtx(t)
	payload := bigPayload()
	if _, err := c.Enqueue(ctx, "big", bytes.NewReader(payload), sdk.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.DequeueBatch(ctx, "big", sdk.DequeueOptions{Owner: "w", PageSize: 4, BlockSeconds: sdk.BlockNoWait})
	if err == nil {
		lens := make([]int, 0, len(msgs))
		for _, m := range msgs {
			b, _ := io.ReadAll(m)
			lens = append(lens, len(b))
		}
		t.Fatalf("cut answer gave %d messages with payloads of %v bytes, want an error", len(msgs), lens)
	}
	if cuts.Load() != 1 {
		t.Fatalf("cuts = %d", cuts.Load())
	}
}
