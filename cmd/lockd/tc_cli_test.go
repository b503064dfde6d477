package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// unknownTxnID is a valid xid no transaction has.
const unknownTxnID = "c5v9d0sl70b3m3q8ndg0"

// failTC runs a script that must fail with one stderr line that starts
// with prefix and contains want.
func (c *clientShell) failTC(script, prefix, want string) {
	c.t.Helper()
	_, errOut, err := c.sh(script)
	if err == nil {
		c.t.Fatalf("%s: succeeded, want failure %q", script, want)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], want) {
		c.t.Fatalf("%s: stderr %q, want one line %q… with %q", script, errOut, prefix, want)
	}
}

func TestTxnCommandsCommitRollbackReplay(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	// Two keys in one transaction, committed by the TC command; the
	// participants come from -p, the txn id from the acquire's exports.
	out := c.mustSh(`
eval "$(lockd client acquire --key acct-a --ttl 30s)"
echo '{"v":1}' | lockd client update >/dev/null
eval "$(lockd client acquire --key acct-b --ttl 30s --txn-id "$LOCKD_CLIENT_TXN_ID")"
echo '{"v":2}' | lockd client update >/dev/null
lockd txn commit -p acct-a -p default:acct-b
lockd txn replay
lockd client get --public --key acct-a --type raw; echo
lockd client get --public --key acct-b --type raw; echo
`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], " state=commit") || !strings.HasPrefix(lines[0], "txn_id=") ||
		lines[1] != lines[0] || lines[2] != `{"v":1}` || lines[3] != `{"v":2}` {
		t.Fatalf("commit flow output:\n%s", out)
	}

	// Prepare records the participants without deciding; rollback undoes
	// both; JSON output carries the wire answer.
	out = c.mustSh(`
eval "$(lockd client acquire --key r-a --ttl 30s)"
echo '{"v":3}' | lockd client update >/dev/null
eval "$(lockd client acquire --key r-b --ttl 30s --txn-id "$LOCKD_CLIENT_TXN_ID")"
echo '{"v":4}' | lockd client update >/dev/null
lockd txn prepare -p r-a,r-b --expires-unix "$(( $(date +%s) + 60 ))"
lockd txn rollback --output json
`)
	var last struct {
		TxnID string `json:"txn_id"`
		State string `json:"state"`
	}
	i := strings.Index(out, "{")
	if !strings.Contains(out[:max(i, 0)], "state=pending") || i < 0 || json.Unmarshal([]byte(out[i:]), &last) != nil || last.State != "rollback" || last.TxnID == "" {
		t.Fatalf("prepare/rollback output:\n%s", out)
	}
	for _, k := range []string{"r-a", "r-b"} {
		if got := c.mustSh("lockd client get --public --key " + k + " --type raw"); strings.TrimSpace(got) != "" {
			t.Fatalf("%s after rollback: %q", k, got)
		}
	}
	// The RM apply endpoint, for a decision already taken.
	if got := c.mustSh("lockd txn commit --apply --txn-id " + lastCommitID(t, lines[0])); !strings.HasSuffix(strings.TrimSpace(got), "state=commit") {
		t.Fatalf("commit --apply: %q", got)
	}

	c.failTC("lockd txn replay --txn-id "+unknownTxnID, "lockd: txn replay: txn_not_found", "(HTTP 404")
	c.failTC("lockd txn commit --apply --txn-id "+unknownTxnID, "lockd: txn commit: txn_not_found", "(HTTP 404")
	c.failTC("lockd txn replay", "lockd: txn replay:", "--txn-id is required (or set LOCKD_CLIENT_TXN_ID)")
	c.failTC("lockd txn commit --txn-id "+unknownTxnID+" -p 'a@'", "lockd: txn commit:", "empty backend hash")
	c.failTC("lockd txn commit --txn-id not-an-xid", "lockd: txn commit: invalid_txn_id", "(HTTP 400")
	c.failTC("lockd txn abort", "lockd: txn: unknown command", "abort")
	c.failTC("lockd txn commit --txn-id "+unknownTxnID+" --output yaml", "lockd: txn commit:", "invalid --output")
}

// lastCommitID returns the id of a "txn_id=ID state=S" line.
func lastCommitID(t *testing.T, line string) string {
	t.Helper()
	id, _, ok := strings.Cut(strings.TrimPrefix(line, "txn_id="), " ")
	if !ok || id == "" {
		t.Fatalf("no txn id in %q", line)
	}
	return id
}

// The TC term grows at every start of a node; a decision carrying an
// older term is refused.
func TestTxnCommandStaleTerm(t *testing.T) {
	store := "disk://" + filepath.Join(t.TempDir(), "data")
	p := startLockd(t, "--store", store)
	p.stop(t)
	p = startLockd(t, "--store", store)
	c := newClientShell(t, p.URL)
	var leader struct {
		Term int64 `json:"term"`
	}
	if err := json.Unmarshal([]byte(c.mustSh("lockd tc leader --output json")), &leader); err != nil || leader.Term < 2 {
		t.Fatalf("leader after a restart: %+v %v", leader, err)
	}
	script := `
eval "$(lockd client acquire --key st-a --ttl 30s)"
echo '{"v":9}' | lockd client update >/dev/null
eval "$(lockd client acquire --key st-b --ttl 30s --txn-id "$LOCKD_CLIENT_TXN_ID")"
echo '{"v":9}' | lockd client update >/dev/null
lockd txn commit --tc-term 1`
	c.failTC(script, "lockd: txn commit: tc_term_stale", "(HTTP 409")
}

func TestTCCommands(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	c := newClientShell(t, p.URL)
	peer := "http://127.0.0.1:19999"
	out := c.mustSh(`
lockd tc announce --self ` + peer + `
echo --
lockd tc list
echo --
lockd tc leave --self ` + peer + `
echo --
lockd tc leader
echo --
lockd tc rm register --backend-hash island-a --rm-endpoint http://127.0.0.1:19001
lockd tc rm register --backend-hash island-a --rm-endpoint http://127.0.0.1:19002 >/dev/null
lockd tc rm unregister --backend-hash island-a --rm-endpoint http://127.0.0.1:19001 >/dev/null
echo --
lockd tc rm list
`)
	parts := strings.Split(out, "--\n")
	if len(parts) != 6 {
		t.Fatalf("output:\n%s", out)
	}
	for i, want := range []string{peer + "\n", peer + "\n"} {
		if !strings.Contains(parts[i], want) || !strings.Contains(parts[i], p.URL+"\n") {
			t.Fatalf("members %d: %q, want %s and %s", i, parts[i], peer, p.URL)
		}
	}
	if strings.Contains(parts[2], peer) || !strings.Contains(parts[2], p.URL) {
		t.Fatalf("after leave: %q", parts[2])
	}
	if !strings.HasPrefix(parts[3], "leader_id=") || !strings.Contains(parts[3], "leader_endpoint="+p.URL+" term=1 ") {
		t.Fatalf("leader: %q", parts[3])
	}
	if parts[4] != "http://127.0.0.1:19001\n" {
		t.Fatalf("rm register: %q", parts[4])
	}
	// The node lists itself under its own store's hash too.
	if !strings.Contains(parts[5], "island-a http://127.0.0.1:19002\n") || !strings.Contains(parts[5], " "+p.URL+"\n") ||
		strings.Count(parts[5], "\n") != 2 {
		t.Fatalf("rm list: %q", parts[5])
	}
	c.failTC("lockd tc announce", "lockd: tc announce:", "--self is required")
	c.failTC("lockd tc announce --self nope", "lockd: tc announce: invalid_self_endpoint", "(HTTP 400")
	c.failTC("lockd tc leave", "lockd: tc leave: missing_self_endpoint", "(HTTP 400")
	c.failTC("lockd tc rm register --rm-endpoint http://127.0.0.1:1", "lockd: tc rm register:", "--backend-hash is required")
	c.failTC("lockd tc rm register --backend-hash h --rm-endpoint nope", "lockd: tc rm register: invalid_endpoint", "(HTTP 400")
	// Without mTLS membership goes to the node itself only (lockd v0.9).
	c.failTC("lockd tc announce --disable-mtls --self "+peer+" --endpoint "+p.URL, "lockd: tc announce:", "mTLS is required")
	c.failTC("lockd tc list --disable-mtls --endpoint "+p.URL+" --endpoint "+peer, "lockd: tc list:", "mTLS is required")
	if got := c.mustSh("lockd tc announce --disable-mtls --self " + p.URL + " --endpoint " + p.URL); !strings.Contains(got, p.URL) {
		t.Fatalf("self announce: %q", got)
	}
}

// Under mTLS the TC commands present a TC identity found in
// $HOME/.lockd: tc-client.pem for txn and list, server.pem for announce;
// an SDK client bundle is refused.
func TestTCCommandsUnderMTLS(t *testing.T) {
	home := t.TempDir()
	p := startSecure(t, home, "--store", "mem://")
	lockdCmd(t, home, false, "auth", "new", "tcclient")
	c := newClientShell(t, p.URL)
	c.env = append(c.env, "HOME="+home)
	c.failTC("lockd txn replay --txn-id "+unknownTxnID, "lockd: txn replay: txn_not_found", "(HTTP 404")
	self := "https://127.0.0.1:19443"
	if got := c.mustSh("lockd tc announce --self " + self); !strings.Contains(got, self+"\n") {
		t.Fatalf("announce: %q", got)
	}
	if got := c.mustSh("lockd tc list --endpoint " + p.URL); !strings.Contains(got, self+"\n") || !strings.Contains(got, p.URL+"\n") {
		t.Fatalf("list: %q", got)
	}
	if got := c.mustSh("lockd tc leader --bundle $HOME/.lockd/server.pem"); !strings.Contains(got, "leader_endpoint="+p.URL) {
		t.Fatalf("leader with the server bundle: %q", got)
	}
	c.failTC("lockd tc leader --bundle $HOME/.lockd/client.pem", "lockd: tc leader: tc_forbidden", "(HTTP 403")
	c.failTC("lockd txn replay --txn-id "+unknownTxnID+" --bundle $HOME/.lockd/client.pem", "lockd: txn replay: tc_forbidden", "(HTTP 403")
	// A HOME without bundles: a clear error, no anonymous handshake.
	bare := newClientShell(t, p.URL)
	bare.failTC("lockd tc list", "lockd: tc list:", "no TC bundle")
}
