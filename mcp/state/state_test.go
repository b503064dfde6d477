package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp/state"
	"github.com/lockdhq/lockd/store/crypt"
)

func testKey(t *testing.T, secret string) *crypt.Key {
	t.Helper()
	k, err := state.KeyFromSecret([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addClient(id string) func(*state.State) error {
	return func(s *state.State) error {
		s.Clients[id] = &state.Client{ID: id, Name: "name-" + id, SecretHash: []byte("h"), Namespaces: []string{"ALL=rw"}, CreatedAt: time.Unix(1, 0)}
		return nil
	}
}

// The file is encrypted, reads back under the same key only, and a
// missing file is ErrNotFound.
func TestStateIsEncryptedAndBoundToItsKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "oauth.state")
	st := state.Open(path, testKey(t, "first secret material"))
	if _, err := st.Load(); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := st.Update(addClient("lmc_visible_name")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("lmc_visible_name")) || bytes.Contains(raw, []byte("signing_key")) {
		t.Fatal("state file holds plaintext")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v", fi.Mode())
	}
	got, err := state.Open(path, testKey(t, "first secret material")).Load()
	if err != nil || got.Clients["lmc_visible_name"] == nil || len(got.SigningKey) != 32 {
		t.Fatalf("reopen: %+v %v", got, err)
	}
	if _, err := state.Open(path, testKey(t, "another secret material")).Load(); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Open(path, testKey(t, "first secret material")).Load(); !errors.Is(err, crypt.ErrCorrupt) {
		t.Fatalf("damaged file: %v", err)
	}
}

// Writers in several stores (processes) lose no update, and a reader sees
// other writers' changes.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.state")
	reader := state.Open(path, testKey(t, "shared secret material"))
	if _, err := reader.Update(func(*state.State) error { return nil }); err != nil {
		t.Fatal(err)
	}
	first, _ := reader.Load()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			st := state.Open(path, testKey(t, "shared secret material"))
			for i := range 10 {
				if _, err := st.Update(addClient(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := reader.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Clients) != 40 {
		t.Fatalf("%d clients after 40 concurrent creations", len(got.Clients))
	}
	if !bytes.Equal(got.SigningKey, first.SigningKey) {
		t.Fatal("the signing key changed")
	}
	if list := got.ClientList(); len(list) != 40 || list[0].ID > list[1].ID {
		t.Fatalf("client list order: %v, %v", list[0].ID, list[1].ID)
	}
}

// A failed update writes nothing.
func TestFailedUpdateWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.state")
	st := state.Open(path, testKey(t, "some secret material"))
	boom := errors.New("boom")
	if _, err := st.Update(func(s *state.State) error { addClient("x")(s); return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed first update created the file: %v", err)
	}
}

// Keys come from a bundle: its storage key (server, CA) or its private
// key (client); the same bundle gives the same key.
func TestKeyFromBundles(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsutil.NewCA("state-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, encode func() ([]byte, error)) string {
		data, err := encode()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cb, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ca.IssueServer(tlsutil.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{write("client.pem", cb.Encode), write("server.pem", sb.Encode), write("ca.pem", ca.Encode)}
	ids := map[string]string{}
	for _, p := range paths {
		k1, err := state.KeyFromBundle(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		k2, _ := state.KeyFromBundle(p)
		if k1.ID() != k2.ID() {
			t.Fatalf("%s: unstable key", p)
		}
		ids[filepath.Base(p)] = k1.ID()
	}
	if ids["server.pem"] != ids["ca.pem"] {
		t.Fatalf("server and CA bundles share the storage key but give keys %v", ids)
	}
	if ids["client.pem"] == ids["server.pem"] {
		t.Fatal("client and server bundles give the same key")
	}
	junk := write("junk.pem", func() ([]byte, error) { return []byte("not a bundle"), nil })
	if _, err := state.KeyFromBundle(junk); err == nil {
		t.Fatal("a junk file gave a key")
	}
	if _, err := state.KeyFromSecret([]byte("short")); err == nil {
		t.Fatal("a short secret gave a key")
	}
}
