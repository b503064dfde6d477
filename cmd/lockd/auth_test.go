package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
)

// lockdCmd runs a lockd command with HOME set to home and returns its
// output; it fails the test on a non-zero exit unless fail is set.
func lockdCmd(t *testing.T, home string, wantFail bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lockdBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantFail {
		t.Fatalf("lockd %s: err=%v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestAuthCommands(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".lockd")
	lockdCmd(t, home, false, "auth", "new", "ca", "--cn", "test-root")
	lockdCmd(t, home, false, "auth", "new", "server", "--hosts", "lockd.example.com", "--hosts", "127.0.0.1")
	lockdCmd(t, home, false, "auth", "new", "server", "--cn", "node-2")
	out := lockdCmd(t, home, false, "auth", "new", "client", "--cn", "worker-1", "-n", "orders=rw,reports=r")
	lockdCmd(t, home, false, "auth", "new", "client", "--cn", "worker-2")
	lockdCmd(t, home, false, "auth", "new", "tcclient")
	lockdCmd(t, home, true, "auth", "new", "ca") // never replaced without --force
	for _, f := range []string{"ca.pem", "server.pem", "server02.pem", "client.pem", "client02.pem", "tc-client.pem"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %v", di.Mode())
	}
	if !strings.Contains(out, "orders=rw, reports=r") || !strings.Contains(out, "spiffe://lockd/sdk/worker-1") {
		t.Fatalf("client issue output:\n%s", out)
	}
	insp := lockdCmd(t, home, false, "auth", "inspect")
	for _, want := range []string{"CA bundle", "lockd.example.com", "spiffe://lockd/server/node-2", "spiffe://lockd/tc/lockd-tc", "ALL=rw", "storage key  id"} {
		if !strings.Contains(insp, want) {
			t.Errorf("inspect lacks %q:\n%s", want, insp)
		}
	}
	if strings.Contains(insp, "EXPIRED") {
		t.Fatalf("fresh bundles reported expired:\n%s", insp)
	}
	lockdCmd(t, home, false, "auth", "verify")

	// Revoking worker-2 reaches both server bundles; verify then fails it.
	cb, err := tlsutil.ReadClientBundle(filepath.Join(dir, "client02.pem"))
	if err != nil {
		t.Fatal(err)
	}
	serial := tlsutil.Serial(cb.Leaf)
	lockdCmd(t, home, false, "auth", "revoke", "client", strings.ToUpper(serial))
	for _, f := range []string{"server.pem", "server02.pem"} {
		sb, err := tlsutil.LoadServerBundle(filepath.Join(dir, f))
		if err != nil || len(sb.Denylist) != 1 || sb.Denylist[0] != serial {
			t.Fatalf("%s denylist %v %v", f, sb.Denylist, err)
		}
	}
	v := lockdCmd(t, home, true, "auth", "verify", "client")
	if !strings.Contains(v, "FAIL  "+filepath.Join(dir, "client02.pem")) || !strings.Contains(v, "ok    "+filepath.Join(dir, "client.pem")) {
		t.Fatalf("verify after revoke:\n%s", v)
	}
	// --propagate=false touches only the named bundle; a bundle file names
	// its own serial.
	lockdCmd(t, home, false, "auth", "revoke", "client", filepath.Join(dir, "client.pem"), "--propagate=false")
	s1, _ := tlsutil.LoadServerBundle(filepath.Join(dir, "server.pem"))
	s2, _ := tlsutil.LoadServerBundle(filepath.Join(dir, "server02.pem"))
	if len(s1.Denylist) != 2 || len(s2.Denylist) != 1 {
		t.Fatalf("propagate=false: %v / %v", s1.Denylist, s2.Denylist)
	}
}

// secureProc is a lockd child process serving mTLS, with its log lines.
type secureProc struct {
	*proc
	lines chan string
	home  string
}

// startSecure runs lockd with mTLS (HOME=home) and waits until it serves.
func startSecure(t *testing.T, home string, args ...string) *secureProc {
	t.Helper()
	cmd := exec.Command(lockdBin, append([]string{"--listen", "127.0.0.1:0", "--drain-grace", "0s"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &secureProc{proc: &proc{cmd: cmd}, lines: make(chan string, 1024), home: home}
	t.Cleanup(func() { p.kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for old lines
			}
		}
		close(p.lines)
	}()
	line := p.waitLog(t, "lockd serving")
	var l struct {
		Listen string `json:"listen"`
		MTLS   bool   `json:"mtls"`
	}
	json.Unmarshal([]byte(line), &l)
	if !l.MTLS {
		t.Fatalf("server is not serving mTLS: %s", line)
	}
	p.URL = "https://" + l.Listen
	return p
}

// waitLog waits for a log line with message msg.
func (p *secureProc) waitLog(t *testing.T, msg string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("lockd exited before logging %q", msg)
			}
			var l struct {
				Message string `json:"message"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Message == msg {
				return line
			}
		case <-deadline:
			t.Fatalf("no %q log line", msg)
		}
	}
}

func bundleClient(t *testing.T, path string) *http.Client {
	t.Helper()
	cfg, err := tlsutil.LoadClientBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func call(c *http.Client, method, url string, body io.Reader, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestFirstStartBootstrapsAndServesMTLS runs lockd as the README's first
// command does, on a fresh HOME: it creates the CA, server and client
// bundles and serves mTLS; the client bundle works and a second start
// reuses the same CA.
func TestFirstStartBootstrapsAndServesMTLS(t *testing.T) {
	home := t.TempDir()
	store := "disk://" + filepath.Join(t.TempDir(), "data")
	p := startSecure(t, home, "--store", store)
	client := filepath.Join(home, ".lockd", "client.pem")
	c := bundleClient(t, client)
	st, body, err := call(c, "POST", p.URL+"/v1/acquire", strings.NewReader(`{"key":"orders","owner":"w","ttl_seconds":30}`))
	if err != nil || st != 200 {
		t.Fatalf("acquire with the bootstrapped client bundle: %d %s %v", st, body, err)
	}
	// No client certificate: refused at the handshake.
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsNoCert(t, client)}}
	if _, _, err := call(anon, "GET", p.URL+"/healthz", nil); err == nil {
		t.Fatal("a client without certificate was served")
	}
	// Plain HTTP on the TLS port gets a 400 that says why.
	if resp, err := http.Get(strings.Replace(p.URL, "https", "http", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("plain HTTP: %d", resp.StatusCode)
		}
	}
	p.stop(t)
	ca, _ := os.ReadFile(filepath.Join(home, ".lockd", "ca.pem"))
	p = startSecure(t, home, "--store", store)
	if again, _ := os.ReadFile(filepath.Join(home, ".lockd", "ca.pem")); !bytes.Equal(ca, again) {
		t.Fatal("second start replaced the CA")
	}
	if st, body, err := call(c, "POST", p.URL+"/v1/describe?key=orders", nil); err != nil || st != 200 {
		t.Fatalf("after restart: %d %s %v", st, body, err)
	}
}

// tlsNoCert is the bundle's client configuration without the certificate.
func tlsNoCert(t *testing.T, path string) *tls.Config {
	cfg, err := tlsutil.LoadClientBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = nil
	return cfg
}

// TestEncryptedStoreEndToEnd writes a known secret through every kind of
// object (state, metadata, attachment, queue payload), then reads the raw
// disk store: no plaintext. Another bundle cannot start on it, and
// lockd verify store tells the two apart.
func TestEncryptedStoreEndToEnd(t *testing.T) {
	home := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	store := "disk://" + data
	lockdCmd(t, home, false, "auth", "new", "ca")
	lockdCmd(t, home, false, "auth", "new", "server")
	lockdCmd(t, home, false, "auth", "new", "client", "-n", "default")
	bundle := filepath.Join(home, ".lockd", "server.pem")
	p := startSecure(t, home, "--store", store, "--bundle", bundle, "--storage-encryption-snappy")
	c := bundleClient(t, filepath.Join(home, ".lockd", "client.pem"))
	secret := "TOP-SECRET-" + strings.Repeat("7", 24)

	st, body, err := call(c, "POST", p.URL+"/v1/acquire", strings.NewReader(`{"key":"vault","owner":"w","ttl_seconds":30}`))
	if err != nil || st != 200 {
		t.Fatalf("acquire: %d %s %v", st, body, err)
	}
	var a api.AcquireResponse
	json.Unmarshal(body, &a)
	h := []string{api.HeaderLeaseID, a.LeaseID, api.HeaderTxnID, a.TxnID, api.HeaderFencingToken, fmt.Sprint(a.FencingToken)}
	big := `{"secret":"` + secret + `","pad":"` + strings.Repeat("x", 100<<10) + `"}` // a blob-sized state
	for _, step := range []struct{ path, body string }{
		{"/v1/update?key=vault", big},
		{"/v1/metadata?key=vault", `{"query_hidden":false}`},
		{"/v1/attachments?key=vault&name=note.txt", secret + " in an attachment"},
	} {
		if st, b, err := call(c, "POST", p.URL+step.path, strings.NewReader(step.body), h...); err != nil || st != 200 {
			t.Fatalf("%s: %d %s %v", step.path, st, b, err)
		}
	}
	rel := fmt.Sprintf(`{"key":"vault","lease_id":%q,"txn_id":%q}`, a.LeaseID, a.TxnID)
	if st, b, err := call(c, "POST", p.URL+"/v1/release", strings.NewReader(rel), api.HeaderFencingToken, fmt.Sprint(a.FencingToken)); err != nil || st != 200 {
		t.Fatalf("release: %d %s %v", st, b, err)
	}
	small := `{"secret":"` + secret + `"}`
	a2 := acquireTLS(t, c, p.URL, "small")
	h2 := []string{api.HeaderLeaseID, a2.LeaseID, api.HeaderTxnID, a2.TxnID, api.HeaderFencingToken, fmt.Sprint(a2.FencingToken)}
	call(c, "POST", p.URL+"/v1/update?key=small", strings.NewReader(small), h2...)
	call(c, "POST", p.URL+"/v1/release", strings.NewReader(fmt.Sprintf(`{"key":"small","lease_id":%q,"txn_id":%q}`, a2.LeaseID, a2.TxnID)),
		api.HeaderFencingToken, fmt.Sprint(a2.FencingToken))
	enq, ctype := multipartEnqueue(`{"queue":"jobs"}`, secret+" in a queue payload")
	if st, b, err := call(c, "POST", p.URL+"/v1/queue/enqueue", bytes.NewReader(enq), "Content-Type", ctype); err != nil || st != 200 {
		t.Fatalf("enqueue: %d %s %v", st, b, err)
	}
	// Read back through the server: decryption works.
	if st, b, _ := call(c, "POST", p.URL+"/v1/get?key=small&public=1", nil); st != 200 || !strings.Contains(string(b), secret) {
		t.Fatalf("get: %d %s", st, b)
	}
	// The index answers an equality query on the secret (its values are
	// sealed in the store, not absent).
	call(c, "POST", p.URL+"/v1/index/flush?namespace=default", strings.NewReader(`{}`))
	q := fmt.Sprintf(`{"namespace":"default","selector":{"eq":{"field":"/secret","value":%q}}}`, secret)
	if st, b, _ := call(c, "POST", p.URL+"/v1/query?engine=index", strings.NewReader(q)); st != 200 || !strings.Contains(string(b), `"small"`) {
		t.Fatalf("indexed query for the secret: %d %s", st, b)
	}
	p.stop(t)

	raw, err := disk.Open(data, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	records, blobs := scanForSecret(t, raw, secret)
	raw.Close()
	if records == 0 || blobs == 0 {
		t.Fatalf("scanned %d records, %d blobs: expected both", records, blobs)
	}
	// The raw files on disk (pebble tables and logs, blob files) too.
	filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(secret[:12])) || bytes.Contains(b, []byte(hex.EncodeToString([]byte(secret[:12])))) {
				t.Errorf("%s holds the secret in plaintext", path)
			}
		}
		return nil
	})

	out := lockdCmd(t, home, false, "verify", "store", "--store", store, "--bundle", bundle)
	if !strings.Contains(out, "0 plaintext, 0 of another key, 0 corrupt") {
		t.Fatalf("verify store:\n%s", out)
	}
	// A bundle of another CA carries another root key: the server refuses
	// the store with a clear error, and so does verify.
	other := t.TempDir()
	lockdCmd(t, other, false, "auth", "new", "ca")
	lockdCmd(t, other, false, "auth", "new", "server")
	otherBundle := filepath.Join(other, ".lockd", "server.pem")
	out = lockdCmd(t, other, true, "--listen", "127.0.0.1:0", "--store", store, "--bundle", otherBundle)
	if !strings.Contains(out, "different root key") {
		t.Fatalf("start with another root key:\n%s", out)
	}
	out = lockdCmd(t, other, true, "verify", "store", "--store", store, "--bundle", otherBundle)
	if !strings.Contains(out, "FAIL  existing objects") || !strings.Contains(out, "different root key") {
		t.Fatalf("verify with another root key:\n%s", out)
	}
	out = lockdCmd(t, home, true, "--listen", "127.0.0.1:0", "--store", store, "--bundle", bundle, "--disable-storage-encryption")
	if !strings.Contains(out, "encrypted data but storage encryption is off") {
		t.Fatalf("start without encryption on an encrypted store:\n%s", out)
	}
}

func acquireTLS(t *testing.T, c *http.Client, base, key string) api.AcquireResponse {
	t.Helper()
	st, body, err := call(c, "POST", base+"/v1/acquire", strings.NewReader(`{"key":"`+key+`","owner":"w","ttl_seconds":30}`))
	if err != nil || st != 200 {
		t.Fatalf("acquire %s: %d %s %v", key, st, body, err)
	}
	var a api.AcquireResponse
	json.Unmarshal(body, &a)
	return a
}

// TestRevokeWhileServing revokes a client with lockd auth revoke and
// SIGHUP: its next handshake is refused, other clients keep working.
func TestRevokeWhileServing(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".lockd")
	lockdCmd(t, home, false, "auth", "new", "ca")
	lockdCmd(t, home, false, "auth", "new", "server")
	lockdCmd(t, home, false, "auth", "new", "client")
	lockdCmd(t, home, false, "auth", "new", "client")
	p := startSecure(t, home, "--store", "mem://", "--bundle", filepath.Join(dir, "server.pem"))
	keep := bundleClient(t, filepath.Join(dir, "client.pem"))
	victimPath := filepath.Join(dir, "client02.pem")
	if st, _, err := call(bundleClient(t, victimPath), "GET", p.URL+"/healthz", nil); err != nil || st != 200 {
		t.Fatalf("before revocation: %d %v", st, err)
	}
	lockdCmd(t, home, false, "auth", "revoke", "client", victimPath)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(t, "revocations reloaded")
	if _, _, err := call(bundleClient(t, victimPath), "GET", p.URL+"/healthz", nil); err == nil {
		t.Fatal("revoked client served after reload")
	}
	if st, _, err := call(keep, "GET", p.URL+"/healthz", nil); err != nil || st != 200 {
		t.Fatalf("other client after revocation: %d %v", st, err)
	}
}

// TestBootstrapFlag starts with --bootstrap DIR twice: the folder is
// filled once, its config.yaml is read, and the server serves mTLS.
func TestBootstrapFlag(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "config")
	p := startSecure(t, home, "--store", "mem://", "--bootstrap", dir)
	for _, f := range []string{"ca.pem", "server.pem", "client.pem", "config.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".lockd")); err == nil {
		t.Fatal("--bootstrap DIR also wrote $HOME/.lockd")
	}
	c := bundleClient(t, filepath.Join(dir, "client.pem"))
	if st, _, err := call(c, "GET", p.URL+"/readyz", nil); err != nil || st != 200 {
		t.Fatalf("readyz: %d %v", st, err)
	}
	p.stop(t)
	// config.yaml is read: a setting there applies.
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("default-namespace: \"fromconfig\"\n")...), 0o600)
	p = startSecure(t, home, "--store", "mem://", "--bootstrap", dir)
	st, body, err := call(c, "POST", p.URL+"/v1/acquire", strings.NewReader(`{"key":"k","owner":"w","ttl_seconds":5}`))
	if err != nil || st != 200 || !strings.Contains(string(body), `"namespace":"fromconfig"`) {
		t.Fatalf("acquire: %d %s %v", st, body, err)
	}
}

// scanForSecret reads every raw record and blob of st and fails if any
// holds the secret (or its first 12 bytes); it returns the counts.
func scanForSecret(t *testing.T, st store.Store, secret string) (records, blobs int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	needle := []byte(secret[:12])
	hexNeedle := hex.EncodeToString(needle) // how an index term would spell it
	keys, err := st.List(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rec, err := st.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		records++
		if bytes.Contains(rec.Value, needle) || strings.Contains(k, string(needle)) || strings.Contains(k, hexNeedle) {
			t.Errorf("record %q holds the secret in plaintext", k)
		}
	}
	names, err := st.ListBlobs(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		rc, _, err := st.OpenBlob(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		blobs++
		if bytes.Contains(b, needle) {
			t.Errorf("blob %q holds the secret in plaintext", n)
		}
	}
	return records, blobs
}

// multipartEnqueue builds an enqueue body: meta JSON and a payload.
func multipartEnqueue(meta, payload string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="meta"`)
	h.Set("Content-Type", "application/json")
	p, _ := w.CreatePart(h)
	p.Write([]byte(meta))
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", "text/plain")
	p, _ = w.CreatePart(h)
	p.Write([]byte(payload))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
