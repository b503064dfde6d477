package edge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/crypt"
	"github.com/lockdhq/lockd/txn"
)

// secret is what a 5xx detail must never show: store keys and paths.
const secret = "ns/k/secret-key /var/lib/lockd/000042.sst"

func TestToHTTPClassifiesWrappedErrors(t *testing.T) {
	cause := errors.New(secret + ": input/output error")
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		retry  time.Duration
	}{
		{"unavailable key", fmt.Errorf("%w: load %s: %w", keyspace.ErrUnavailable, secret, cause), 503, api.CodeUnavailable, 0},
		{"closed store under keyspace", fmt.Errorf("%w: load %s: %w", keyspace.ErrUnavailable, secret, store.ErrClosed), 503, api.CodeUnavailable, time.Second},
		{"closed store under queues", fmt.Errorf("%w: write %s: %w", queues.ErrUnavailable, secret, store.ErrClosed), 503, api.CodeUnavailable, time.Second},
		{"corrupt key record", fmt.Errorf("keyspace: load %s: %w", secret, fmt.Errorf("keyspace: %w: truncated", store.ErrCorrupt)), 500, api.CodeInternal, 0},
		{"corrupt under unavailable", fmt.Errorf("%w: read %s: %w", keyspace.ErrUnavailable, secret, crypt.ErrCorrupt), 500, api.CodeInternal, 0},
		{"corrupt txn record", fmt.Errorf("txn: record %s: %w", secret, store.ErrCorrupt), 500, api.CodeInternal, 0},
		{"queue unavailable", fmt.Errorf("%w: open payload: %w", queues.ErrUnavailable, cause), 503, api.CodeUnavailable, 0},
		{"tc unavailable", fmt.Errorf("%w: term record: %w", txn.ErrUnavailable, cause), 503, api.CodeTCUnavailable, 0},
		{"index unavailable", fmt.Errorf("%w: read state: %w", index.ErrUnavailable, cause), 503, api.CodeUnavailable, 0},
		{"unknown", fmt.Errorf("boom %s: %w", secret, cause), 500, api.CodeInternal, 0},
		{"stale delivery in a txn", fmt.Errorf("%w: m1: %w", txn.ErrQueueLeaseMismatch, queues.ErrNotFound), 409, api.CodeQueueLeaseMismatch, 0},
		{"redelivered message", fmt.Errorf("ack: %w", domainerr.New(queues.ErrLeaseRequired, "not this delivery")), 409, api.CodeQueueLeaseMismatch, 0},
		{"stale message fencing", domainerr.New(queues.ErrFencingMismatch, "x"), 409, api.CodeQueueLeaseMismatch, 0},
		{"message txn", domainerr.New(queues.ErrTxnMismatch, "x"), 409, api.CodeQueueLeaseMismatch, 0},
		{"expired delivery", domainerr.New(queues.ErrLeaseExpired, "x"), 403, api.CodeLeaseExpired, 0},
		{"waiting with hint", &domainerr.Error{Err: keyspace.ErrWaiting, Detail: "lease already held", RetryAfter: 3 * time.Second}, 409, api.CodeWaiting, 3 * time.Second},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), 409, api.CodeWaiting, time.Second},
		// Codes whose situation needs a cluster or a racing TC to stage
		// (docs/WIRE-FACTS.md §8): pinned at the mapping.
		{"txn decision pending", fmt.Errorf("commit: %w", txn.ErrPending), 409, api.CodeTxnPending, 0},
		{"unknown participant kind", fmt.Errorf("decide: %w", txn.ErrUnknownParticipant), 400, api.CodeInvalidParticipant, 0},
		{"key moved", fmt.Errorf("acquire: %w", keyspace.ErrMoved), 503, api.CodeOwnershipMoved, 0},
		{"queue moved", fmt.Errorf("dequeue: %w", queues.ErrMoved), 503, api.CodeOwnershipMoved, 0},
		{"index flush busy", fmt.Errorf("flush: %w", index.ErrFlushBusy), 409, api.CodeIndexFlushBusy, 0},
		{"stale tc term", fmt.Errorf("decide: %w", txn.ErrStaleTerm), 409, api.CodeTCTermStale, 0},
		{"aborted by a participant without lease", fmt.Errorf("%w: %w", txn.ErrAborted, fmt.Errorf("participant key default/a: %w", keyspace.ErrLeaseRequired)), 409, api.CodeTxnAborted, 0},
		{"aborted by an expired participant", fmt.Errorf("%w: %w", txn.ErrAborted, keyspace.ErrLeaseExpired), 409, api.CodeTxnAborted, 0},
		{"aborted commit whose rollback fan-out failed", errors.Join(txn.ErrAborted, &txn.FanoutError{TxnID: "t", State: txn.Rollback, Err: keyspace.ErrUnavailable}), 409, api.CodeTxnAborted, 0},
		{"fan-out incomplete", &txn.FanoutError{TxnID: "t", State: txn.Commit, Err: fmt.Errorf("%w: %s", txn.ErrUnavailable, secret)}, 502, api.CodeTxnFanoutFailed, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			he := toHTTP(tc.err)
			if he.status != tc.status || he.code != tc.code || he.retryAfter != tc.retry {
				t.Fatalf("got %d %s retry %v, want %d %s retry %v", he.status, he.code, he.retryAfter, tc.status, tc.code, tc.retry)
			}
			if he.status >= 500 && (strings.Contains(he.detail, "secret-key") || strings.Contains(he.detail, "/var/lib")) {
				t.Fatalf("5xx detail echoes internals: %q", he.detail)
			}
			if he.detail == "" {
				t.Fatal("empty detail")
			}
		})
	}
}

// Every 5xx entry of the table carries its own detail.
func TestFiveHundredsHaveFixedDetails(t *testing.T) {
	for _, m := range domainErrors {
		if m.status >= 500 && m.detail == "" {
			t.Errorf("%v → %d %s has no fixed detail", m.err, m.status, m.code)
		}
	}
}
