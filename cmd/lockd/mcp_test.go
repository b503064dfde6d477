package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// mcpProc is a "lockd mcp" child process.
type mcpProc struct {
	proc
	endpoint string // MCP endpoint URL
	base     string
}

// startMCP runs "lockd mcp ARGS" on a free loopback port and waits until
// it logs that it serves.
func startMCP(t *testing.T, args ...string) *mcpProc {
	t.Helper()
	cmd := exec.Command(lockdBin, append([]string{"mcp", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &mcpProc{proc: proc{cmd: cmd}}
	t.Cleanup(func() { p.kill() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg      string `json:"msg"`
				Endpoint string `json:"endpoint"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "lockd mcp serving" {
				ready <- line.Endpoint
			}
		}
	}()
	select {
	case p.endpoint = <-ready:
		p.base = strings.TrimSuffix(p.endpoint, "/mcp")
	case <-time.After(30 * time.Second):
		t.Fatal("lockd mcp did not start")
	}
	return p
}

// clientBundle writes a CA and a client bundle into dir and returns the
// client bundle's path (its key encrypts the OAuth state).
func clientBundle(t *testing.T, dir string) string {
	t.Helper()
	ca, err := tlsutil.NewCA("mcp-test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := cb.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// admin runs "lockd mcp admin ARGS" and decodes its JSON output into out.
func admin(t *testing.T, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(lockdBin, append([]string{"mcp", "admin"}, args...)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("lockd mcp admin %v: %v\n%s", args, err, se.String())
	}
	if out != nil {
		if err := json.Unmarshal(so.Bytes(), out); err != nil {
			t.Fatalf("admin %v output %q: %v", args, so.String(), err)
		}
	}
}

func mcpCall(t *testing.T, cs *sdkmcp.ClientSession, name string, args map[string]any, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdkmcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: %s", name, res.Content[0].(*sdkmcp.TextContent).Text)
	}
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

func mcpConnect(t *testing.T, tr sdkmcp.Transport) *sdkmcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "cli-test", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// "lockd mcp --stdio" serves a desktop agent over stdin/stdout; the
// leases it forgot are rolled back when the agent goes away.
func TestMCPStdioServesAnAgent(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	cmd := exec.Command(lockdBin, "mcp", "--stdio", "--server", p.URL, "--disable-mtls")
	cs := mcpConnect(t, &sdkmcp.CommandTransport{Command: cmd})
	var l struct {
		LeaseID string `json:"lease_id"`
	}
	mcpCall(t, cs, "lock_acquire", map[string]any{"key": "stdio"}, &l)
	mcpCall(t, cs, "state_update", map[string]any{"lease_id": l.LeaseID, "document": map[string]any{"via": "stdio"}}, nil)
	mcpCall(t, cs, "lock_release", map[string]any{"lease_id": l.LeaseID}, nil)
	mcpCall(t, cs, "lock_acquire", map[string]any{"key": "forgotten"}, &l)
	var st struct {
		Document map[string]any `json:"document"`
	}
	mcpCall(t, cs, "state_get", map[string]any{"key": "stdio"}, &st)
	if st.Document["via"] != "stdio" {
		t.Fatalf("state %+v", st)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	code, body, err := getDescribe(p.URL, "forgotten")
	if err != nil || code != 200 || strings.Contains(body, `"lease_id"`) {
		t.Fatalf("forgotten lease after the agent left: %d %s %v", code, body, err)
	}
}

func getDescribe(base, key string) (int, string, error) {
	resp, err := client.Get(base + "/v1/describe?key=" + url.QueryEscape(key))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String(), nil
}

// "lockd mcp admin" creates, lists, rotates and revokes clients in the
// encrypted state, and a serving "lockd mcp" follows the changes.
func TestMCPAdminAndOAuthThroughTheBinary(t *testing.T) {
	p := startLockd(t, "--store", "mem://")
	dir := t.TempDir()
	bundle := clientBundle(t, dir)
	statePath := filepath.Join(dir, "oauth.state")
	stateArgs := []string{"--oauth-state", statePath, "--state-bundle", bundle}
	var cr struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	admin(t, &cr, append([]string{"create", "--name", "agent-1", "--namespace", "work=rw"}, stateArgs...)...)
	if !strings.HasPrefix(cr.ClientID, "lmc_") || !strings.HasPrefix(cr.ClientSecret, "lms_") {
		t.Fatalf("credentials %+v", cr)
	}
	raw, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(cr.ClientID)) || bytes.Contains(raw, []byte("agent-1")) {
		t.Fatal("the OAuth state is readable on disk")
	}
	m := startMCP(t, append([]string{"--server", p.URL, "--disable-mtls"}, stateArgs...)...)
	cfg := clientcredentials.Config{ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, TokenURL: m.base + "/oauth/token"}
	cs := mcpConnect(t, &sdkmcp.StreamableClientTransport{Endpoint: m.endpoint, HTTPClient: cfg.Client(context.Background()), MaxRetries: -1})
	mcpCall(t, cs, "queue_enqueue", map[string]any{"namespace": "work", "queue": "q", "text": "hi"}, nil)

	var list []struct {
		ClientID   string   `json:"client_id"`
		Namespaces []string `json:"namespaces"`
	}
	admin(t, &list, append([]string{"list", "--json"}, stateArgs...)...)
	if len(list) != 1 || list[0].ClientID != cr.ClientID || list[0].Namespaces[0] != "work=rw" {
		t.Fatalf("list %+v", list)
	}
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	admin(t, &rot, append([]string{"rotate", cr.ClientID}, stateArgs...)...)
	if _, err := cfg.Token(context.Background()); err == nil {
		t.Fatal("the rotated secret still works")
	}
	cfg.ClientSecret = rot.ClientSecret
	cs2 := mcpConnect(t, &sdkmcp.StreamableClientTransport{Endpoint: m.endpoint, HTTPClient: cfg.Client(context.Background()), MaxRetries: -1})
	mcpCall(t, cs2, "queue_stats", map[string]any{"namespace": "work", "queue": "q"}, nil)
	admin(t, nil, append([]string{"revoke", cr.ClientID}, stateArgs...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs2.CallTool(ctx, &sdkmcp.CallToolParams{Name: "queue_stats", Arguments: map[string]any{"namespace": "work", "queue": "q"}}); err == nil {
		t.Fatal("a revoked client is still served")
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lockd mcp exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lockd mcp did not stop on SIGTERM")
	}
}
