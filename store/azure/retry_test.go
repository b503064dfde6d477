package azure_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/azure"
)

var errAny = errors.New("any error")

// fakeAzure answers container requests with 200 and every blob request
// with the next status of script (repeating the last one), counting them.
func fakeAzure(t *testing.T, script ...int) (*azure.Store, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("restype") == "container" {
			return
		}
		i := int(n.Add(1)) - 1
		status := script[min(i, len(script)-1)]
		if status == http.StatusCreated {
			w.Header().Set("ETag", `"0x1"`)
			w.WriteHeader(status)
			return
		}
		code := map[int]string{412: "ConditionNotMet", 409: "BlobAlreadyExists", 503: "ServerBusy", 500: "InternalError", 404: "BlobNotFound"}[status]
		w.Header().Set("x-ms-error-code", code)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>` + code + `</Code><Message>scripted</Message></Error>`))
	}))
	t.Cleanup(srv.Close)
	s, err := azure.Open(context.Background(), azure.Config{
		Account: testservers.AzuriteAccount, AccountKey: testservers.AzuriteKey, Container: "c",
		Endpoint:  srv.URL + "/" + testservers.AzuriteAccount,
		BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
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
		// After a retry, a 412 costs one GetProperties to rule out our own write.
		{"503 retried then 412", []int{503, 503, 412}, store.Cond{IfMatch: "x"}, 4, store.ErrConflict},
		{"500 retried then ok", []int{500, 201}, store.Cond{}, 2, nil},
		{"503 until attempts run out", []int{503}, store.Cond{}, azure.DefaultMaxAttempts, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, n := fakeAzure(t, tc.script...)
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
