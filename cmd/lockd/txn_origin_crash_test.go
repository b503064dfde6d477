package main_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// tlsHeld is a lease taken over mTLS.
type tlsHeld struct {
	api.AcquireResponse
	c    *http.Client
	base string
}

func (h tlsHeld) headers() []string {
	return []string{api.HeaderLeaseID, h.LeaseID, api.HeaderTxnID, h.TxnID, api.HeaderFencingToken, fmt.Sprint(h.FencingToken)}
}

func acquireTLSIn(t *testing.T, c *http.Client, base, key, txnID string) tlsHeld {
	t.Helper()
	req := fmt.Sprintf(`{"key":%q,"owner":"w","ttl_seconds":300,"txn_id":%q}`, key, txnID)
	st, body, err := call(c, "POST", base+"/v1/acquire", strings.NewReader(req))
	if err != nil || st != 200 {
		t.Fatalf("acquire %s: %d %s %v", key, st, body, err)
	}
	h := tlsHeld{c: c, base: base}
	mustJSON(t, body, &h.AcquireResponse)
	return h
}

// On the default deployment (disk, encrypted with the bundle's storage
// key) a key that joins, after a kill -9 and restart, a transaction minted
// before it enlists the key that minted it (invariant 6): committing
// through the joiner publishes the origin's staged write too, and rolling
// back through it discards both.
func TestJoinAfterRestartEnlistsOriginOnEncryptedDisk(t *testing.T) {
	home := t.TempDir()
	store := "disk://" + filepath.Join(t.TempDir(), "data")
	lockdCmd(t, home, false, "auth", "new", "ca")
	lockdCmd(t, home, false, "auth", "new", "server")
	lockdCmd(t, home, false, "auth", "new", "client", "-n", "default")
	args := []string{"--store", store, "--bundle", filepath.Join(home, ".lockd", "server.pem"), "--sweeper-interval", "1h"}
	p := startSecure(t, home, args...)
	c := bundleClient(t, filepath.Join(home, ".lockd", "client.pem"))
	var origins []tlsHeld
	for _, k := range []string{"origin-c", "origin-r"} {
		o := acquireTLSIn(t, c, p.URL, k, "")
		if st, b, err := call(c, "POST", p.URL+"/v1/update?key="+k, strings.NewReader(`{"from":"origin"}`), o.headers()...); err != nil || st != 200 {
			t.Fatalf("update %s: %d %s %v", k, st, b, err)
		}
		origins = append(origins, o)
	}
	p.kill()
	p = startSecure(t, home, args...)
	for i, rollback := range []bool{false, true} {
		o := origins[i]
		j := acquireTLSIn(t, c, p.URL, "joiner-"+o.Key, o.TxnID)
		if st, b, err := call(c, "POST", p.URL+"/v1/update?key="+j.Key, strings.NewReader(`{"from":"joiner"}`), j.headers()...); err != nil || st != 200 {
			t.Fatalf("update joiner: %d %s %v", st, b, err)
		}
		rel := fmt.Sprintf(`{"key":%q,"lease_id":%q,"txn_id":%q,"rollback":%v}`, j.Key, j.LeaseID, j.TxnID, rollback)
		if st, b, err := call(c, "POST", p.URL+"/v1/release", strings.NewReader(rel), api.HeaderFencingToken, fmt.Sprint(j.FencingToken)); err != nil || st != 200 {
			t.Fatalf("release joiner (rollback=%v): %d %s %v", rollback, st, b, err)
		}
		st, body, err := call(c, "POST", p.URL+"/v1/get?public=1&key="+o.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rollback {
			if st != 204 {
				t.Fatalf("rolling back through the joiner left the origin's staged write: %d %s", st, body)
			}
		} else if st != 200 || string(body) != `{"from":"origin"}` {
			t.Fatalf("committing through the joiner did not commit the origin (not enlisted): %d %s", st, body)
		}
		// The decision released the origin's lease too: anyone may take it.
		a := acquireTLSIn(t, c, p.URL, o.Key, "")
		if a.FencingToken <= o.FencingToken {
			t.Fatalf("fencing of %s after the transaction: %d (was %d)", o.Key, a.FencingToken, o.FencingToken)
		}
	}
}
