package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// clientShell runs lockd client commands against one server.
type clientShell struct {
	t   *testing.T
	env []string
	dir string
}

func newClientShell(t *testing.T, server string) *clientShell {
	t.Helper()
	dir := t.TempDir()
	return &clientShell{t: t, dir: dir, env: []string{
		"PATH=" + filepath.Dir(lockdBin) + ":" + os.Getenv("PATH"),
		"HOME=" + dir, // no client bundles to discover
		"TMPDIR=" + dir,
		"LOCKD_CLIENT_SERVER=" + server,
	}}
}

// sh runs a POSIX shell script (lockd is on PATH) and returns stdout,
// stderr and the error of a non-zero exit.
func (c *clientShell) sh(script string) (string, string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "set -e\n"+script)
	cmd.Env, cmd.Dir = c.env, c.dir
	// On timeout, kill the shell's whole process group, not just sh.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustSh runs a script that must succeed.
func (c *clientShell) mustSh(script string) string {
	c.t.Helper()
	out, errOut, err := c.sh(script)
	if err != nil {
		c.t.Fatalf("script failed: %v\nstderr: %s\nstdout: %s\nscript:\n%s", err, errOut, out, script)
	}
	return out
}

// failSh runs a command that must fail with exactly one line on stderr
// containing want.
func (c *clientShell) failSh(script, want string) {
	c.t.Helper()
	_, errOut, err := c.sh(script)
	if err == nil {
		c.t.Fatalf("%s: succeeded, want failure %q", script, want)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.HasPrefix(lines[0], "lockd: client") {
		c.t.Fatalf("%s: stderr %q, want one line with %q", script, errOut, want)
	}
}

func TestClientEvalAcquireGetEditUpdate(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	out := c.mustSh(`
eval "$(lockd client acquire --key orders --owner worker-1 --ttl 30s)"
test "$LOCKD_CLIENT_KEY" = orders
test "$LOCKD_CLIENT_FENCING_TOKEN" = 1
test -n "$LOCKD_CLIENT_LEASE" && test -n "$LOCKD_CLIENT_TXN_ID" && test -n "$LOCKD_CLIENT_CORRELATION_ID"
test "$LOCKD_CLIENT_NAMESPACE" = default
echo '{"status":{"counter":41}}' | lockd client update >/dev/null
lockd client get -o - | lockd client edit /status/counter++ '/status/state="done"' | lockd client update >/dev/null
lockd client keepalive --ttl 45s >/dev/null
lockd client describe | grep -q "$LOCKD_CLIENT_LEASE"
lockd client release >/dev/null
lockd client get --public --type raw
`)
	var doc struct {
		Status struct {
			Counter int
			State   string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Status.Counter != 42 || doc.Status.State != "done" {
		t.Fatalf("committed state %q (%v)", out, err)
	}
	// The exported lines are safe to eval: values are single-quoted.
	exports := c.mustSh(`lockd client acquire --key quoted --owner "it's \$(boom)"`)
	if !strings.Contains(exports, `export LOCKD_CLIENT_OWNER='it'\''s $(boom)'`) {
		t.Fatalf("exports:\n%s", exports)
	}
	for _, line := range strings.Split(strings.TrimSpace(exports), "\n") {
		if !strings.HasPrefix(line, "export LOCKD_CLIENT_") {
			t.Fatalf("non-export line on stdout: %q", line)
		}
	}
}

func TestClientRollbackRemoveMutateSet(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	os.WriteFile(filepath.Join(c.dir, "notes.txt"), []byte("hello\n"), 0o600)
	os.WriteFile(filepath.Join(c.dir, "blob.bin"), []byte{0, 1, 2}, 0o600)
	out := c.mustSh(`
eval "$(lockd client acquire --key ledger)"
lockd client mutate /count=1 '/data{/hello key="mars traveler",/n++}' 'time:/meta/at=NOW' >/dev/null
lockd client set 'textfile:/notes=notes.txt' 'base64file:/blob=blob.bin' /count++ >/dev/null
lockd client mutate --local /count++ >/dev/null
lockd client release >/dev/null
eval "$(lockd client acquire --key ledger)"
lockd client remove >/dev/null
lockd client release --rollback >/dev/null
lockd client get --public --type raw
`)
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	data, _ := doc["data"].(map[string]any)
	if doc["count"] != 3.0 || doc["notes"] != "hello\n" || doc["blob"] != "AAEC" || data["hello key"] != "mars traveler" || data["n"] != 1.0 {
		t.Fatalf("state after mutate/set and a rolled-back remove: %v", doc)
	}
	c.failSh(`eval "$(lockd client acquire --key ledger)"; lockd client mutate 'textfile:/x=notes.txt'`, "mutate --local")
}

func TestClientEditLocalFile(t *testing.T) {
	c := newClientShell(t, "http://127.0.0.1:1") // edit never talks to a server
	path := filepath.Join(c.dir, "checkpoint.json")
	os.WriteFile(path, []byte(`{"progress":{"count":1}}`), 0o640)
	c.mustSh(`lockd client edit checkpoint.json '/progress/step="done"' /progress/count=+5 rm:/nothing`)
	var doc struct{ Progress map[string]any }
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil || doc.Progress["step"] != "done" || doc.Progress["count"] != 6.0 {
		t.Fatalf("edited file %s (%v)", data, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	if out := c.mustSh(`echo '{"a":1}' | lockd client edit --file - /a--`); strings.TrimSpace(out) != "{\n  \"a\": 0\n}" {
		t.Fatalf("stdin edit: %q", out)
	}
	c.failSh(`echo '{}' | lockd client edit '/broken'`, "mutation")
}

func TestClientQueueDequeueAckFromEnv(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	out := c.mustSh(`
lockd client queue enqueue --queue orders --content-type application/json --data '{"op":"ship","order_id":42}' >/dev/null
eval "$(lockd client queue dequeue --queue orders --owner worker-1 --block 5s)"
test "$LOCKD_QUEUE_NAME" = orders && test "$LOCKD_QUEUE_NAMESPACE" = default
test -n "$LOCKD_QUEUE_MESSAGE_ID" && test -n "$LOCKD_QUEUE_LEASE" && test -n "$LOCKD_QUEUE_META_ETAG"
eval "$(lockd client queue extend --extend 45s 2>/dev/null)"
lockd client queue ack
cat "$LOCKD_QUEUE_PAYLOAD_PATH"
`)
	if !strings.Contains(out, "acknowledged") || !strings.Contains(out, `{"op":"ship","order_id":42}`) {
		t.Fatalf("output %q", out)
	}
	// nack with intent, redelivery, stateful dequeue, stats.
	out = c.mustSh(`
printf 'from stdin' | lockd client queue enqueue -q jobs --attr kind=test >/dev/null
eval "$(lockd client queue dequeue -q jobs --block nowait)"
lockd client queue nack --intent defer
eval "$(lockd client queue dequeue -q jobs --block 5s --stateful -o payload.bin)"
test -n "$LOCKD_QUEUE_STATE_LEASE" && test -n "$LOCKD_QUEUE_STATE_FENCING_TOKEN"
lockd client queue nack --reason "upstream retry"
eval "$(lockd client queue dequeue -q jobs --block 5s)"
lockd client queue ack >/dev/null
cat payload.bin; echo
lockd client queue stats -q jobs
`)
	if !strings.Contains(out, "requeued\nrequeued\nfrom stdin") || !strings.Contains(out, `"ready": 0`) {
		t.Fatalf("output %q", out)
	}
	c.failSh(`lockd client queue enqueue -q twice -d x >/dev/null
eval "$(lockd client queue dequeue -q twice 2>/dev/null)"
lockd client queue ack >/dev/null
lockd client queue ack`, "not_found")
	c.failSh(`lockd client queue dequeue -q empty --block nowait`, "no messages available")
	c.failSh(`lockd client queue ack`, "--queue is required")
}

func TestClientQueryAttachmentsNamespace(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	os.WriteFile(filepath.Join(c.dir, "invoice.pdf"), []byte("%PDF-fake"), 0o600)
	out := c.mustSh(`
for k in a b c; do
  eval "$(lockd client acquire --key report/$k)"
  echo "{\"report\":{\"status\":\"staged\",\"k\":\"$k\"}}" | lockd client update >/dev/null
  lockd client release >/dev/null
done
eval "$(lockd client acquire --key orders)"
lockd client attachments put --name invoice.pdf --file invoice.pdf --content-type application/pdf >/dev/null
lockd client attachments list --output text
lockd client release >/dev/null
lockd client attachments list --key orders --public --output text
lockd client attachments get --key orders --name invoice.pdf --public -o got.pdf
cmp got.pdf invoice.pdf
lockd client query '/report/status="staged"'
lockd client query --output text --file keys.txt '/report/status="staged"'
lockd client query --documents --directory export '/report/k="b"'
cat export/report-b.json
lockd client namespace set query --preferred scan --fallback none --output text
`)
	for _, want := range []string{"invoice.pdf\t9\t", `["report/a","report/b","report/c"]`, `"k":"b"`, "preferred_engine: scan"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in:\n%s", want, out)
		}
	}
	if keys, _ := os.ReadFile(filepath.Join(c.dir, "keys.txt")); string(keys) != "report/a\nreport/b\nreport/c\n" {
		t.Fatalf("keys.txt %q", keys)
	}
	c.failSh(`lockd client query '/broken'`, "selector")
}

func TestClientHelpfulErrors(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	c.failSh(`lockd client acquire --bogus`, "unknown flag: --bogus")
	c.failSh(`lockd client frobnicate`, `unknown command "frobnicate"`)
	c.failSh(`lockd client get`, "--key is required (or set LOCKD_CLIENT_KEY)")
	c.failSh(`lockd client update --key k`, "--lease is required (or set LOCKD_CLIENT_LEASE)")
	c.failSh(`eval "$(lockd client acquire --key held)"; lockd client acquire --key held --block nowait`, "waiting: lease already held (HTTP 409")
	c.failSh(`eval "$(lockd client acquire --key k2)"; lockd client get --fencing-token 99`, "HTTP 403")
	c.failSh(`lockd client acquire --key x --if-not-exists --block nowait; lockd client acquire --key x --if-not-exists --block nowait`, "already_exists")
	c.failSh(`lockd client --server 127.0.0.1:1 --disable-mtls describe --key x --timeout 2s`, "connection refused")
	c.failSh(`lockd client --server `+strings.TrimPrefix(p.URL, "http://")+` describe --key x`, "--disable-mtls")
	if out := c.mustSh(`lockd client --help`); !strings.Contains(out, "acquire") || !strings.Contains(out, "--server") {
		t.Fatalf("help: %q", out)
	}
	if out := c.mustSh(`lockd client acquire --help`); !strings.Contains(out, "--if-not-exists") {
		t.Fatalf("acquire help: %q", out)
	}
	// The server still parses its own flags.
	_, errOut, err := c.sh(`lockd --bogus-server-flag`)
	if err == nil || !strings.Contains(errOut, "bogus-server-flag") {
		t.Fatalf("server flags: %v %q", err, errOut)
	}
}

func TestClientOverUnixSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "lockd.sock")
	startLockd(t, "--store", "mem://", "--listen-proto", "unix", "--listen", sock)
	c := newClientShell(t, "unix://"+sock)
	out := c.mustSh(`
eval "$(lockd client acquire --key sock)"
echo '{"over":"unix"}' | lockd client update >/dev/null
lockd client release >/dev/null
lockd client get --public --type raw
`)
	if strings.TrimSpace(out) != `{"over":"unix"}` {
		t.Fatalf("got %q", out)
	}
}

func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "lockd-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// The client finds its bundle in $HOME/.lockd as the SDK does: client.pem
// among several. Several without client.pem is an error, not a connection
// without a client certificate, and plain http never looks.
func TestClientBundleDiscovery(t *testing.T) {
	p := startSecure(t, t.TempDir(), "--store", "mem://")
	c := newClientShell(t, p.URL)
	dir := filepath.Join(c.dir, ".lockd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	own, err := os.ReadFile(filepath.Join(p.home, ".lockd", "client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client.pem"), own, 0o600); err != nil {
		t.Fatal(err)
	}
	// client-a.pem sorts first and is of another CA: chosen by mistake,
	// it would not trust the server.
	other, err := tlsutil.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := other.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := cb.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client-a.pem"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustSh(`lockd client describe --key k`)

	if err := os.Rename(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client02.pem")); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := c.sh(`lockd client describe --key k`)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("several bundles without client.pem: %v, want a non-zero exit", err)
	}
	line := strings.TrimSpace(errOut)
	for _, want := range []string{"lockd: client describe: ", "several client bundles", "client-a.pem", "client02.pem", "--bundle"} {
		if strings.Contains(line, "\n") || !strings.Contains(line, want) {
			t.Fatalf("stderr %q, want one line with %q", errOut, want)
		}
	}
	c.mustSh(`lockd client --bundle .lockd/client02.pem describe --key k`)
	c.failSh(`lockd client --bundle .lockd/missing.pem describe --key k`, "missing.pem")
	c.failSh(`lockd client --server http://127.0.0.1:1 describe --key k --timeout 2s`, "connection refused")
}
