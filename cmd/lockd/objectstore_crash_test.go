package main_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/internal/testservers"
)

// objectStores are the S3 and Azure stores of one test, as the binary takes
// them: a URL and the environment with the credentials.
func objectStores(t *testing.T) map[string]func() (string, []string) {
	return map[string]func() (string, []string){
		"s3": func() (string, []string) {
			endpoint, access, secret, bucket := testservers.StartS3(t)
			return fmt.Sprintf("s3://%s/%s/crash?insecure=1", endpoint, bucket),
				[]string{"LOCKD_S3_ACCESS_KEY_ID=" + access, "LOCKD_S3_SECRET_ACCESS_KEY=" + secret}
		},
		"azure": func() (string, []string) {
			c := testservers.AzureConfig(t)
			return fmt.Sprintf("azure://%s/%s/crash?endpoint=%s", c.Account, c.Container, c.Endpoint),
				[]string{"LOCKD_AZURE_ACCOUNT_KEY=" + c.AccountKey}
		},
	}
}

// Acknowledged releases, staged leases and fencing survive kill -9 on the
// object stores, as on disk.
func TestObjectStoresSurviveKill9(t *testing.T) {
	for name, open := range objectStores(t) {
		t.Run(name, func(t *testing.T) {
			url, env := open()
			p := startLockdEnv(t, env, "--store", url)
			var acked []string
			for i := 0; i < 20; i++ {
				key := fmt.Sprintf("k%d", i)
				h, err := acquireKey(p.URL, key)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.update(p.URL, fmt.Sprintf(`{"i":%d}`, i)); err != nil {
					t.Fatal(err)
				}
				if err := h.release(p.URL); err != nil {
					t.Fatal(err)
				}
				acked = append(acked, key)
			}
			held, err := acquireKey(p.URL, "staged")
			if err != nil {
				t.Fatal(err)
			}
			if err := held.update(p.URL, `{"big":"`+strings.Repeat("b", 100<<10)+`"}`); err != nil { // a blob-sized state
				t.Fatal(err)
			}
			p.kill()
			p = startLockdEnv(t, env, "--store", url)
			for i, key := range acked {
				st, body, err := post(p.URL, "/v1/get?public=1&key="+key, nil)
				if err != nil || st != 200 || string(body) != fmt.Sprintf(`{"i":%d}`, i) {
					t.Fatalf("acknowledged release of %s lost: %d %s %v", key, st, body, err)
				}
			}
			if err := held.release(p.URL); err != nil {
				t.Fatalf("holder lost its lease in the crash: %v", err)
			}
			st, body, _ := post(p.URL, "/v1/get?public=1&key=staged", nil)
			if st != 200 || len(body) < 100<<10 {
				t.Fatalf("staged blob state after restart: %d (%d bytes)", st, len(body))
			}
			next, err := acquireKey(p.URL, "staged")
			if err != nil || next.FencingToken != held.FencingToken+1 {
				t.Fatalf("fencing %d after %d: %v", next.FencingToken, held.FencingToken, err)
			}
		})
	}
}
