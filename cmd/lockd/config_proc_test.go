package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// run runs the binary with env (on top of a clean HOME and no
// LOCKD_CONFIG) and returns stdout, stderr and the exit status.
func runLockd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lockdBin, args...)
	cmd.Env = append(cleanEnv(t), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("lockd %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("lockd %v did not exit (is it serving?)\n%s", args, e.String())
	}
	return o.String(), e.String(), code
}

// cleanEnv is the test's environment without LOCKD_* variables and with
// HOME set to a new empty folder.
func cleanEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCKD_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir())
}

// TestUnknownCommandsExit2: words after the binary name that are no
// command are an error with status 2, and no server starts.
func TestUnknownCommandsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"tcx", "list"},
		{"foo"},
		{"--store", "mem://", "--disable-mtls", "tc", "list"},
		{"--store", "mem://", "stray"},
		{"--no-such-flag"},
		{"config", "frobnicate"},
	} {
		_, stderr, code := runLockd(t, nil, args...)
		if code != 2 {
			t.Errorf("lockd %v: exit %d, want 2\n%s", args, code, stderr)
		}
		if !strings.HasPrefix(stderr, "lockd: ") || strings.Contains(stderr, "lockd serving") {
			t.Errorf("lockd %v: stderr %q", args, stderr)
		}
	}
	if out, _, code := runLockd(t, nil, "--help"); code != 0 || !strings.Contains(out, "--json-util") || !strings.Contains(out, "lockd config gen") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

// TestConfigGen writes the template where v0.9 does, refuses to replace
// it without --force, and the server runs on it with every default.
func TestConfigGen(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home}
	path := filepath.Join(home, ".lockd", "config.yaml")
	out, _, code := runLockd(t, env, "config", "gen")
	if code != 0 || !strings.Contains(out, path) {
		t.Fatalf("config gen: exit %d %q", code, out)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if _, stderr, code := runLockd(t, env, "config", "gen"); code != 1 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second gen: exit %d %q", code, stderr)
	}
	if _, _, code := runLockd(t, env, "config", "gen", "--force"); code != 0 {
		t.Fatalf("gen --force: exit %d", code)
	}
	stdout, _, _ := runLockd(t, env, "config", "gen", "--stdout")
	if stdout != string(written) || !strings.HasPrefix(stdout, "# lockd server configuration") {
		t.Fatalf("--stdout differs from the file:\n%s", stdout)
	}
	other := filepath.Join(t.TempDir(), "sub", "lockd.yaml")
	if _, _, code := runLockd(t, env, "config", "gen", "--out", other); code != 0 {
		t.Fatalf("--out: exit %d", code)
	}
	if _, _, code := runLockd(t, env, "config", "gen", "--stdout", "--out", other); code != 2 {
		t.Fatalf("--stdout --out: exit %d", code)
	}

	// Every setting read from the default file equals the default.
	defaults := showConfig(t, []string{"HOME=" + t.TempDir()})
	got := showConfig(t, env)
	if len(got) < 30 || len(got) != len(defaults) {
		t.Fatalf("show: %d settings, defaults %d", len(got), len(defaults))
	}
	for k, d := range defaults {
		if g := got[k]; g.value != d.value || g.source != "config file" || d.source != "default" {
			t.Errorf("%s: %q from %s, default %q from %s", k, g.value, g.source, d.value, d.source)
		}
	}

	// And the server starts on it (flags still win: listen, store).
	p := startServer(t, env, "--store", "mem://", "--disable-mtls")
	if !p.saw("configuration file loaded", "config", path) {
		t.Fatalf("the default config file was not reported:\n%s", p.log())
	}
	for _, l := range p.lines() {
		if l.Level == "warn" && l.Message != "plain HTTP and no storage encryption: --disable-mtls without --bundle" {
			t.Errorf("unexpected warning: %s", l.raw)
		}
	}
}

type shown struct{ value, source string }

// showConfig runs `lockd config show` and returns each setting with the
// source its comment names.
func showConfig(t *testing.T, env []string, args ...string) map[string]shown {
	t.Helper()
	out, stderr, code := runLockd(t, env, append([]string{"config", "show"}, args...)...)
	if code != 0 {
		t.Fatalf("config show: exit %d\n%s", code, stderr)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("config show output is not YAML: %v\n%s", err, out)
	}
	m := doc.Content[0]
	res := map[string]shown{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		v := m.Content[i+1]
		val := v.Value
		if v.Kind == yaml.SequenceNode {
			var items []string
			for _, it := range v.Content {
				items = append(items, it.Value)
			}
			val = "[" + strings.Join(items, ",") + "]"
		}
		res[m.Content[i].Value] = shown{val, strings.TrimSpace(strings.TrimPrefix(v.LineComment, "#"))}
	}
	return res
}

// v09Entry is one row of flags_v09.go, read from the source so the
// external test package sees the same table the binary was built from.
type v09Entry struct{ name, kind, example string }

func readV09Table(t *testing.T) []v09Entry {
	t.Helper()
	src, err := os.ReadFile("flags_v09.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\{name: "([^"]+)",(?: short: "[a-z]",)? kind: (kind\w+), example: "([^"]*)"`)
	var out []v09Entry
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out = append(out, v09Entry{m[1], m[2], m[3]})
	}
	if len(out) < 100 {
		t.Fatalf("read %d v0.9 flags from flags_v09.go", len(out))
	}
	return out
}

// TestV09CommandLine starts a real server with every v0.9 flag on its
// command line (the few the harness sets itself aside): it serves, and
// each flag without effect here logs exactly one warning saying why.
func TestV09CommandLine(t *testing.T) {
	help, _, _ := runLockd(t, nil, "--help")
	_, inertList, ok := strings.Cut(help, "without effect in this build")
	if !ok {
		t.Fatalf("--help lists no inert flags:\n%s", help)
	}
	inert := map[string]bool{}
	for _, w := range strings.Fields(inertList) {
		if strings.HasPrefix(w, "--") {
			inert[strings.TrimPrefix(w, "--")] = true
		}
	}
	harness := map[string]bool{"listen": true, "store": true, "disable-mtls": true, "bundle": true,
		"config": true, "bootstrap": true, "drain-grace": true, "metrics-listen": true, "pprof-listen": true}
	var args []string
	given := map[string]bool{}
	for _, f := range readV09Table(t) {
		if harness[f.name] {
			continue
		}
		args = append(args, "--"+f.name+"="+f.example)
		given[f.name] = true
	}
	p := startServer(t, []string{"HOME=" + t.TempDir()}, append([]string{"--store", "mem://", "--disable-mtls"}, args...)...)
	warned := map[string]int{}
	for _, l := range p.lines() {
		if strings.HasPrefix(l.Message, "flag has no effect: ") {
			warned[l.Flag]++
			if l.Source != "command line" || len(l.Message) < len("flag has no effect: ")+20 {
				t.Errorf("warning without source or reason: %s", l.raw)
			}
		}
	}
	for name := range given {
		switch {
		case inert[name] && warned[name] != 1:
			t.Errorf("--%s: %d warnings, want 1", name, warned[name])
		case !inert[name] && warned[name] != 0:
			t.Errorf("--%s is implemented but warned", name)
		}
	}
	for name := range warned {
		if !given[name] {
			t.Errorf("warning for --%s, which was not given", name)
		}
	}
}

// TestV09ConfigFileAndEnv: a v0.9-style config file in $HOME/.lockd, with
// keys this build does not know and v0.9 settings it ignores, starts the
// server; its settings apply; LOCKD_* beats it; warnings name the keys.
func TestV09ConfigFileAndEnv(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, ".lockd", "config.yaml")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte(`# as lockd v0.9 writes it
listen: :9341
listen-proto: tcp
store: mem://
ha: failover
default-namespace: fromfile
max-ttl: 1m
json-max: 1MB
json-util: lockd
payload-spool-mem: 1MB
tc-join: []
mcp.listen: 127.0.0.1:19341
mcp.path: /mcp
storage-retry-attempts: 3
some-future-key: 1
log-level: info
`), 0o600)
	p := startServer(t, []string{"HOME=" + home, "LOCKD_DEFAULT_NAMESPACE=fromenv", "LOCKD_QUEUE_POLL_INTERVAL=1s"}, "--disable-mtls")
	warnings := map[string]string{}
	for _, l := range p.lines() {
		if l.Level != "warn" {
			continue
		}
		switch {
		case l.Key != "":
			warnings["key "+l.Key] = l.Message
		case l.Flag != "":
			warnings["flag "+l.Flag+" from "+l.Source] = l.Message
		}
	}
	for _, want := range []string{"key some-future-key", "flag json-util from config file", "flag queue-poll-interval from environment"} {
		if warnings[want] == "" {
			t.Errorf("no warning for %s; got %v", want, warnings)
		}
	}
	if len(warnings) != 3 {
		t.Errorf("warnings: %v", warnings)
	}
	// The environment beats the file (namespace); the file beats the
	// default (max-ttl 1m clamps a one-hour lease).
	before := time.Now().Unix()
	st, body, err := post(p.URL, "/v1/acquire", `{"key":"k","owner":"w","ttl_seconds":3600}`)
	if err != nil || st != http.StatusOK {
		t.Fatalf("acquire: %d %s %v", st, body, err)
	}
	var r struct {
		Namespace string `json:"namespace"`
		Expires   int64  `json:"expires_at_unix"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Namespace != "fromenv" || r.Expires > before+61 || r.Expires < before+50 {
		t.Fatalf("acquire (want namespace fromenv, ttl clamped to 1m): %s %v", body, err)
	}
}

// logLine is a zerolog JSON line of the server.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Listen  string `json:"listen"`
	Flag    string `json:"flag"`
	Source  string `json:"source"`
	Key     string `json:"key"`
	Config  string `json:"config"`
	raw     string
}

// capturedProc is a server whose log lines up to "lockd serving" are kept.
type capturedProc struct {
	*proc
	logs []logLine
}

// startServer runs the binary on a loopback port with env on top of a
// clean environment and keeps its log until it serves.
func startServer(t *testing.T, env []string, args ...string) *capturedProc {
	t.Helper()
	cmd := exec.Command(lockdBin, append([]string{"--listen", "127.0.0.1:0", "--drain-grace", "0s"}, args...)...)
	cmd.Env = append(cleanEnv(t), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &capturedProc{proc: &proc{cmd: cmd}}
	t.Cleanup(func() { p.kill() })
	done := make(chan []logLine, 1)
	go func() {
		var lines []logLine
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			var l logLine
			json.Unmarshal(sc.Bytes(), &l)
			l.raw = sc.Text()
			lines = append(lines, l)
			if l.Message == "lockd serving" {
				done <- lines
				io.Copy(io.Discard, stderr) // so the server never blocks on stderr
				return
			}
		}
		done <- lines
	}()
	select {
	case p.logs = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("lockd did not start")
	}
	last := p.logs[len(p.logs)-1]
	if last.Message != "lockd serving" {
		t.Fatalf("lockd exited before serving:\n%s", p.log())
	}
	p.URL = "http://" + last.Listen
	return p
}

func (p *capturedProc) lines() []logLine { return p.logs }

func (p *capturedProc) log() string {
	var b strings.Builder
	for _, l := range p.logs {
		b.WriteString(l.raw + "\n")
	}
	return b.String()
}

// saw reports a line with message msg whose field (config only) is value.
func (p *capturedProc) saw(msg, field, value string) bool {
	for _, l := range p.logs {
		if l.Message == msg && (field != "config" || l.Config == value) {
			return true
		}
	}
	return false
}
