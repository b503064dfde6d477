package main_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// qStats reads a queue's counts.
func qStats(t *testing.T, base, queue string) api.QueueStatsResponse {
	t.Helper()
	st, body, err := post(base, "/v1/queue/stats", api.QueueStatsRequest{Queue: queue})
	if err != nil || st != 200 {
		t.Fatalf("stats: %d %s %v", st, body, err)
	}
	var out api.QueueStatsResponse
	mustJSON(t, body, &out)
	return out
}

// within polls cond every 50ms for at most d (a bound, not a wait for a
// duration: it returns as soon as cond holds).
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// A transaction holding a key and a dequeued message is decided, and the
// process dies before applying the decision. The restart's recovery
// applies it to the message too, at once: commit acks the delivery,
// rollback puts it back to ready. The sweeper (an hour away) and the
// delivery's visibility (five minutes) cannot be what settles it.
func TestDecidedTransactionWithMessageRecoversAtStart(t *testing.T) {
	for _, rollback := range []bool{false, true} {
		t.Run(fmt.Sprintf("rollback=%v", rollback), func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--store", "disk://" + dir, "--sweeper-interval", "1h"}
			p := startLockdEnv(t, []string{"LOCKD_FAILPOINT=txn-after-decision"}, args...)
			if _, err := qEnqueue(p.URL, "jobs", "job-1"); err != nil {
				t.Fatal(err)
			}
			k, err := acquireKey(p.URL, "job-state")
			if err != nil {
				t.Fatal(err)
			}
			ms, err := qDequeue(p.URL, map[string]any{"queue": "jobs", "owner": "w", "txn_id": k.TxnID,
				"visibility_timeout_seconds": 300, "wait_seconds": -1})
			if err != nil || len(ms) != 1 || ms[0].TxnID != k.TxnID {
				t.Fatalf("enlisted dequeue: %+v %v", ms, err)
			}
			if err := k.update(p.URL, `{"done":1}`); err != nil {
				t.Fatal(err)
			}
			if _, _, err := post(p.URL, "/v1/release", api.ReleaseRequest{Key: k.Key, LeaseID: k.LeaseID, TxnID: k.TxnID, Rollback: rollback},
				api.HeaderFencingToken, fmt.Sprint(k.FencingToken)); err == nil {
				t.Fatal("the server survived its failpoint")
			}
			p.kill()
			p = startLockd(t, args...)
			var last api.QueueStatsResponse
			settled := within(15*time.Second, func() bool {
				last = qStats(t, p.URL, "jobs")
				if rollback {
					return last.InFlight == 0 && last.Ready == 1
				}
				return last.InFlight+last.Ready+last.Delayed == 0
			})
			if !settled {
				t.Fatalf("recovery did not settle the enlisted message: %+v", last)
			}
			st, body, _ := post(p.URL, "/v1/get?public=1&key=job-state", nil)
			if rollback {
				if st != 204 {
					t.Fatalf("rolled-back state visible: %d %s", st, body)
				}
				again, err := qDequeue(p.URL, map[string]any{"queue": "jobs", "owner": "w2", "wait_seconds": -1})
				if err != nil || len(again) != 1 || again[0].MessageID != ms[0].MessageID || again[0].FailureAttempts != 1 {
					t.Fatalf("redelivery after recovered rollback: %+v %v", again, err)
				}
				return
			}
			if st != 200 || string(body) != `{"done":1}` {
				t.Fatalf("committed state after recovery: %d %s", st, body)
			}
		})
	}
}
