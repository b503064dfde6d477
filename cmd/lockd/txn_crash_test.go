package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

func acquireIn(base, key, txnID string) (held, error) {
	st, body, err := post(base, "/v1/acquire", api.AcquireRequest{Key: key, Owner: "crash", TTLSeconds: 300, TxnID: txnID})
	if err != nil || st != 200 {
		return held{}, fmt.Errorf("acquire %s: %d %s %v", key, st, body, err)
	}
	var h held
	mustJSONErr(body, &h.AcquireResponse)
	return h, nil
}

func mustJSONErr(b []byte, v any) { _ = jsonUnmarshal(b, v) }

// bigDoc is a state large enough to live in a blob (> 64 KiB).
func bigDoc(tag string) string {
	return `{"tag":"` + tag + `","pad":"` + strings.Repeat("p", 100<<10) + `"}`
}

// startTxn acquires three keys in one transaction and stages a blob-sized
// state on each.
func startTxn(t *testing.T, base, tag string) []held {
	t.Helper()
	var hs []held
	txnID := ""
	for _, k := range []string{"ta", "tb", "tc"} {
		h, err := acquireIn(base, k, txnID)
		if err != nil {
			t.Fatal(err)
		}
		txnID = h.TxnID
		if err := h.update(base, bigDoc(tag+k)); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// states returns the committed tag of each key ("" when none).
func states(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	for _, k := range []string{"ta", "tb", "tc"} {
		st, body, err := post(base, "/v1/get?public=1&key="+k, nil)
		switch {
		case err != nil:
			t.Fatal(err)
		case st == 204:
			out = append(out, "")
		default:
			var doc struct{ Tag string }
			jsonUnmarshal(body, &doc)
			out = append(out, doc.Tag)
		}
	}
	return out
}

func allOrNothing(t *testing.T, got []string, tag string) bool {
	t.Helper()
	committed := got[0] == tag+"ta"
	for i, k := range []string{"ta", "tb", "tc"} {
		if committed != (got[i] == tag+k) {
			t.Fatalf("partial transaction after crash: %q", got)
		}
	}
	return committed
}

func TestTransactionsSurviveKill9AtEveryPoint(t *testing.T) {
	for _, fp := range []string{"txn-before-decision", "txn-after-decision", "txn-mid-apply"} {
		t.Run(fp, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--store", "disk://" + dir, "--sweeper-interval", "200ms", "--sweeper-grace", "1ms"}
			p := startLockdEnv(t, []string{"LOCKD_FAILPOINT=" + fp}, args...)
			hs := startTxn(t, p.URL, "v1")
			if _, _, err := post(p.URL, "/v1/release", api.ReleaseRequest{Key: "ta", LeaseID: hs[0].LeaseID, TxnID: hs[0].TxnID},
				api.HeaderFencingToken, fmt.Sprint(hs[0].FencingToken)); err == nil {
				t.Fatal("the server survived its failpoint")
			}
			p.kill()
			p = startLockd(t, args...)
			committed := allOrNothing(t, waitStable(t, p.URL), "v1")
			switch fp {
			case "txn-before-decision":
				if committed {
					t.Fatal("committed without a durable decision")
				}
				// The transaction is still pending with its leases and
				// staged writes: the client commits again.
				if err := hs[1].release(p.URL); err != nil {
					t.Fatalf("commit after restart: %v", err)
				}
				if !allOrNothing(t, states(t, p.URL), "v1") {
					t.Fatal("commit after restart did not apply")
				}
			default:
				if !committed {
					t.Fatalf("durable commit decision not applied after restart: %q", states(t, p.URL))
				}
			}
			// Every participant's later release answers OK.
			for _, h := range hs {
				if err := h.release(p.URL); err != nil {
					t.Fatalf("later release of %s: %v", h.Key, err)
				}
			}
			// Roll a second transaction back: its staged blobs are swept.
			hs = startTxn(t, p.URL, "v2")
			st, body, _ := post(p.URL, "/v1/release", api.ReleaseRequest{Key: "tb", LeaseID: hs[1].LeaseID, TxnID: hs[1].TxnID, Rollback: true},
				api.HeaderFencingToken, fmt.Sprint(hs[1].FencingToken))
			if st != 200 {
				t.Fatalf("rollback: %d %s", st, body)
			}
			if got := states(t, p.URL); !allOrNothing(t, got, "v1") {
				t.Fatalf("rollback changed committed states: %q", got)
			}
			deadline := time.Now().Add(15 * time.Second)
			for blobFiles(t, dir) != 3 { // the three committed states
				if time.Now().After(deadline) {
					t.Fatalf("%d blob files; staged blobs of the rolled-back transaction were not swept", blobFiles(t, dir))
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// waitStable lets recovery finish (it replays decisions in the background).
func waitStable(t *testing.T, base string) []string {
	t.Helper()
	prev := states(t, base)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		cur := states(t, base)
		if strings.Join(cur, ",") == strings.Join(prev, ",") && (cur[0] != "" || time.Now().After(deadline.Add(-8*time.Second))) {
			return cur
		}
		prev = cur
	}
	return prev
}
