package edge_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
)

// stallStore is a mem store whose record writes block, while stalled,
// until their context ends or the stall is lifted.
type stallStore struct {
	store.Store
	stalled atomic.Bool
	lift    chan struct{}
}

func (s *stallStore) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	if s.stalled.Load() {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-s.lift:
		}
	}
	return s.Store.Put(ctx, key, value, cond)
}

// timedServer starts a server with short request and HTTP timeouts.
func timedServer(t *testing.T, st store.Store, cfg server.Config) *edgetest.Server {
	be := edgetest.Backend{Name: "timed", Open: func(*testing.T) store.Store { return st }}
	return edgetest.Start(t, be, cfg)
}

func TestOrdinaryRequestEndsAtItsDeadline(t *testing.T) {
	t.Parallel()
	st := &stallStore{Store: mem.New(), lift: make(chan struct{})}
	s := timedServer(t, st, server.Config{RequestTimeout: 500 * time.Millisecond})
	l := acquire(t, s, "slow", "o")
	st.stalled.Store(true)
	t.Cleanup(func() { close(st.lift) })
	start := time.Now()
	r := s.Do("POST", l.path("update"), `{"v":1}`, l.headers()...)
	// lockd v0.9 answers a request that ran out of time 409 waiting.
	if r.Status != 409 || r.ErrorCode() != api.CodeWaiting || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(r.Body), "request deadline exceeded") {
		t.Fatalf("update on a stalled store: %d %s", r.Status, r.Body)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the deadline did not bound the request: %v", took)
	}
}

func TestBlockingCallsGetTheirWait(t *testing.T) {
	t.Parallel()
	s := timedServer(t, mem.New(), server.Config{RequestTimeout: 300 * time.Millisecond})
	acquire(t, s, "held", "a")
	// Two seconds of waiting is far past the 300ms bound of an ordinary
	// request: the wait plus its margin applies instead.
	r := s.Do("POST", "/v1/acquire", `{"key":"held","owner":"b","block_seconds":2}`)
	if r.Status != 409 || r.ErrorCode() != api.CodeWaiting {
		t.Fatalf("blocked acquire: %d %s", r.Status, r.Body)
	}
	r = s.Do("POST", "/v1/queue/dequeue", `{"queue":"empty","owner":"c","wait_seconds":2}`)
	if r.Status != 409 || r.ErrorCode() != api.CodeWaiting {
		t.Fatalf("dequeue wait: %d %s", r.Status, r.Body)
	}
}

func TestStreamsOutliveTheRequestDeadline(t *testing.T) {
	t.Parallel()
	s := timedServer(t, mem.New(), server.Config{RequestTimeout: 200 * time.Millisecond})
	sub := subscribe(t, s, "/v1/queue/subscribe", map[string]any{"queue": "long", "owner": "s1"})
	eventually(t, "a subscriber", func() bool { return stats(t, s, "long").Subscribers == 1 })
	// Well past the request bound, the subscription still delivers.
	time.Sleep(600 * time.Millisecond)
	enqueue(t, s, "long", `{"late":true}`)
	if d := sub.next(t); string(d.Payload) != `{"late":true}` {
		t.Fatalf("late delivery %q", d.Payload)
	}
}

// slowBody yields n chunks of size bytes with a pause before each.
type slowBody struct {
	n, size int
	pause   time.Duration
	sent    int
	buf     []byte
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.buf) == 0 {
		if b.sent == b.n {
			return 0, io.EOF
		}
		time.Sleep(b.pause) // the client is slow: that is the test
		b.buf = make([]byte, b.size)
		for i := range b.buf {
			b.buf[i] = byte('a' + b.sent%26)
		}
		b.sent++
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// A streamed upload that takes far longer than the header timeout and the
// request bound goes through while bytes keep coming.
func TestSlowUploadIsNotCutOff(t *testing.T) {
	t.Parallel()
	s := timedServer(t, mem.New(), server.Config{ReadHeaderTimeout: 200 * time.Millisecond,
		RequestTimeout: 2 * time.Second, BodyIdleTimeout: 5 * time.Second})
	l := acquire(t, s, "upload", "o")
	body := &slowBody{n: 20, size: 64 << 10, pause: 300 * time.Millisecond} // 1.25 MiB over ≥6s
	r := s.Do("POST", l.path("attachments")+"&name=big.bin", body, append(l.headers(), "Content-Type", "application/octet-stream")...)
	if r.Status != 200 {
		t.Fatalf("slow upload: %d %s", r.Status, r.Body)
	}
	var up api.AttachResponse
	r.JSON(t, &up)
	if up.Attachment.Size != 20*64<<10 {
		t.Fatalf("stored %d bytes", up.Attachment.Size)
	}
}

// A body that stops arriving is cut after the body idle timeout.
func TestStalledUploadIsCut(t *testing.T) {
	t.Parallel()
	s := timedServer(t, mem.New(), server.Config{BodyIdleTimeout: 300 * time.Millisecond})
	l := acquire(t, s, "stall", "o")
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "POST " + l.path("attachments") + "&name=x HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
		"X-Lease-ID: " + l.LeaseID + "\r\nX-Txn-ID: " + l.TxnID + "\r\nX-Fencing-Token: " + itoa(l.FencingToken) +
		"\r\nContent-Length: 100000000\r\n\r\n" + strings.Repeat("x", 1<<20)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	// Send nothing more: the server gives up on the body and closes.
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server held a stalled upload for 30s")
	}
}

// A client that never finishes its headers is dropped after the header
// timeout.
func TestHeaderReadTimeout(t *testing.T) {
	t.Parallel()
	s := timedServer(t, mem.New(), server.Config{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	_, err = bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a half-sent header was held for 30s")
	}
}
