package main_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// TestUnsafeEnvIgnored proves the shipped build (no lockdunsafe tag)
// ignores LOCKD_TEST_UNSAFE: each new lease still takes a larger fencing
// token, and a stale token or a foreign lease id is still refused.
func TestUnsafeEnvIgnored(t *testing.T) {
	for _, mode := range []string{"reuse-fencing", "skip-lease-check"} {
		t.Run(mode, func(t *testing.T) {
			p := startLockdEnv(t, []string{"LOCKD_TEST_UNSAFE=" + mode}, "--store", "mem://")
			first, err := acquireKey(p.URL, "unsafe-k")
			if err != nil {
				t.Fatal(err)
			}
			if err := first.release(p.URL); err != nil {
				t.Fatal(err)
			}
			second, err := acquireKey(p.URL, "unsafe-k")
			if err != nil {
				t.Fatal(err)
			}
			if second.FencingToken <= first.FencingToken {
				t.Fatalf("second lease's fencing %d, first %d: a token was reused", second.FencingToken, first.FencingToken)
			}
			stale := []string{api.HeaderLeaseID, second.LeaseID, api.HeaderTxnID, second.TxnID,
				api.HeaderFencingToken, strconv.FormatInt(first.FencingToken, 10)}
			wantRefused(t, p.URL, "stale fencing token", stale, "fencing_mismatch")
			wantRefused(t, p.URL, "old lease id", first.headers(), "lease_required")
			if err := second.update(p.URL, `{"n":1}`); err != nil {
				t.Fatalf("the current holder cannot write: %v", err)
			}
		})
	}
}

func wantRefused(t *testing.T, base, what string, headers []string, code string) {
	t.Helper()
	st, body, err := post(base, "/v1/update?key=unsafe-k", `{"n":0}`, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if st < 400 || !strings.Contains(string(body), code) {
		t.Fatalf("update with %s: %d %s, want %s", what, st, body, code)
	}
}
