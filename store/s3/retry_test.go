package s3_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/s3"
)

// fakeS3 answers HEAD bucket with 200 and every other request with the
// next status of script (repeating the last one), counting requests.
func fakeS3(t *testing.T, script ...int) (*s3.Store, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			return
		}
		i := int(n.Add(1)) - 1
		status := script[min(i, len(script)-1)]
		code := map[int]string{412: "PreconditionFailed", 409: "ConditionalRequestConflict", 503: "SlowDown", 500: "InternalError", 404: "NoSuchKey"}[status]
		if status == 200 {
			w.Header().Set("ETag", `"abc"`)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		w.Write([]byte("<Error><Code>" + code + "</Code><Message>scripted</Message></Error>"))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := s3.Open(ctx, s3.Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "b", Insecure: true, PathStyle: true,
		AccessKeyID: "k", SecretAccessKey: "s", BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &n
}

// TestRetryPolicy checks which answers are retried, by counting the
// requests the server saw and the round trips Stats reports.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		script    []int
		cond      store.Cond
		wantTrips int32
		wantErr   error // nil: success
	}{
		{"412 not retried", []int{412}, store.Cond{IfMatch: "x"}, 1, store.ErrConflict},
		{"409 not retried", []int{409}, store.Cond{IfNotExists: true}, 1, store.ErrConflict},
		{"404 on IfMatch is a conflict", []int{404}, store.Cond{IfMatch: "x"}, 1, store.ErrConflict},
		// After a retry, a 412 costs one GET to rule out our own write.
		{"503 retried then 412", []int{503, 503, 412}, store.Cond{IfMatch: "x"}, 4, store.ErrConflict},
		{"500 retried then ok", []int{500, 200}, store.Cond{}, 2, nil},
		{"503 until attempts run out", []int{503}, store.Cond{}, s3.DefaultMaxAttempts, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, n := fakeS3(t, tc.script...)
			_, err := s.Put(context.Background(), "k", []byte("v"), tc.cond)
			switch {
			case tc.wantErr == nil && err != nil, tc.wantErr == errAny && err == nil,
				tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("Put: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == errAny && errors.Is(err, store.ErrConflict) {
				t.Fatalf("Put: %v must not be a conflict", err)
			}
			if got := n.Load(); got != tc.wantTrips {
				t.Errorf("server saw %d requests, want %d", got, tc.wantTrips)
			}
			if got := s.Stats().Put.RoundTrips; got != uint64(tc.wantTrips) {
				t.Errorf("Stats: %d round trips, want %d", got, tc.wantTrips)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestRetriedWriteRecognisesItself plays a conditional write whose first
// try succeeds but whose answer is lost (503): the retry fails its
// condition, and the driver must find its own write by the nonce.
func TestRetriedWriteRecognisesItself(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var stored []byte
	var puts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodHead:
		case r.Method == http.MethodPut:
			puts++
			if puts > 1 {
				w.WriteHeader(http.StatusPreconditionFailed)
				w.Write([]byte("<Error><Code>PreconditionFailed</Code></Error>"))
				return
			}
			stored, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusServiceUnavailable) // the write happened; the answer is lost
		case r.Method == http.MethodGet:
			w.Header().Set("ETag", `"after"`)
			w.Write(stored)
		}
	}))
	defer srv.Close()
	s, err := s3.Open(context.Background(), s3.Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "b", Insecure: true, PathStyle: true,
		AccessKeyID: "k", SecretAccessKey: "s", BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tag, err := s.Put(context.Background(), "k", []byte("v"), store.Cond{IfMatch: "before"})
	if err != nil || tag != "after" {
		t.Fatalf("Put: %q %v, want success with the ETag of our own write", tag, err)
	}
}
