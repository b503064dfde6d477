package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// isolate points HOME at an empty folder and clears LOCKD_CONFIG, so no
// configuration file of the machine running the test is read.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.Unsetenv("LOCKD_CONFIG")
	return home
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseConfig(t *testing.T) {
	got, err := parseConfig([]byte(`# comment
json-max: 10MB
tc-join: [https://a:9341, "https://b:9341"]
empty:
mcp:
  listen: 127.0.0.1:1
disable-mtls: true # trailing comment
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []configEntry{
		{key: "json-max", vals: []string{"10MB"}, line: 2},
		{key: "tc-join", vals: []string{"https://a:9341", "https://b:9341"}, list: true, line: 3},
		{key: "empty", vals: []string{""}, null: true, line: 4},
		{key: "mcp.listen", vals: []string{"127.0.0.1:1"}, line: 6},
		{key: "disable-mtls", vals: []string{"true"}, line: 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.key != w.key || strings.Join(g.vals, "|") != strings.Join(w.vals, "|") || g.list != w.list || g.null != w.null || g.line != w.line {
			t.Errorf("entry %d: got %+v want %+v", i, g, w)
		}
	}
	for _, empty := range []string{"", "# only a comment\n", "---\n"} {
		if e, err := parseConfig([]byte(empty)); err != nil || len(e) != 0 {
			t.Errorf("parseConfig(%q) = %v, %v", empty, e, err)
		}
	}
	laughs := "a: &a {x: 1, y: 1}\n"
	for i, prev := 'b', "a"; i < 'b'+12; i++ {
		laughs += fmt.Sprintf("%c: &%c {p: *%s, q: *%s, r: *%s}\n", i, i, prev, prev, prev)
		prev = string(i)
	}
	for _, bad := range []string{"- a\n- b\n", "just a string\n", "key: [a, {b: c}]\n", "a: b: c\n",
		"a: &x\n  b: *x\n", laughs} {
		if _, err := parseConfig([]byte(bad)); err == nil {
			t.Errorf("parseConfig(%q) accepted", bad)
		}
	}
}

// TestPrecedence: a flag beats LOCKD_*, which beats the config file, which
// beats the default; each value's source is recorded.
func TestPrecedence(t *testing.T) {
	home := isolate(t)
	writeFile(t, filepath.Join(home, ".lockd", "config.yaml"), `
listen: 127.0.0.1:7
default-ttl: 40s
max-ttl: 10m
json-max: 2MB
`)
	t.Setenv("LOCKD_DEFAULT_TTL", "45s")
	t.Setenv("LOCKD_MAX_TTL", "11m")
	s, err := loadSettings([]string{"--max-ttl", "12m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.config != filepath.Join(home, ".lockd", "config.yaml") {
		t.Fatalf("config file %q", s.config)
	}
	f := s.f
	if f.cfg.MaxTTL != 12*time.Minute || f.cfg.DefaultTTL != 45*time.Second || *f.jsonMax != 2<<20 || f.cfg.Listen != "127.0.0.1:7" || f.cfg.AcquireBlock != 60*time.Second {
		t.Fatalf("max-ttl %v default-ttl %v json-max %d listen %s acquire-block %v", f.cfg.MaxTTL, f.cfg.DefaultTTL, *f.jsonMax, f.cfg.Listen, f.cfg.AcquireBlock)
	}
	for name, want := range map[string]string{"max-ttl": fromFlag, "default-ttl": fromEnv, "json-max": fromConfig, "acquire-block": fromDefault} {
		if got := s.source(name); got != want {
			t.Errorf("source of %s = %q, want %q", name, got, want)
		}
	}
}

// TestConfigFileChoice: -c beats LOCKD_CONFIG beats the --bootstrap
// folder beats $HOME/.lockd; -c "" reads none; a named file must exist.
func TestConfigFileChoice(t *testing.T) {
	home := isolate(t)
	homeCfg := writeFile(t, filepath.Join(home, ".lockd", "config.yaml"), "default-namespace: home\n")
	boot := t.TempDir()
	writeFile(t, filepath.Join(boot, "config.yaml"), "default-namespace: boot\n")
	env := writeFile(t, filepath.Join(t.TempDir(), "env.yaml"), "default-namespace: env\n")
	flag := writeFile(t, filepath.Join(t.TempDir(), "flag.yaml"), "default-namespace: flag\n")
	ns := func(env string, args ...string) string {
		t.Helper()
		if env == "-" {
			os.Unsetenv("LOCKD_CONFIG")
		} else {
			t.Setenv("LOCKD_CONFIG", env)
		}
		s, err := loadSettings(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return s.f.cfg.DefaultNamespace
	}
	if got := ns("-"); got != "home" {
		t.Errorf("default: %s (from %s)", got, homeCfg)
	}
	if got := ns("-", "--bootstrap", boot); got != "boot" {
		t.Errorf("--bootstrap folder: %s", got)
	}
	if got := ns(env, "--bootstrap", boot); got != "env" {
		t.Errorf("LOCKD_CONFIG: %s", got)
	}
	if got := ns(env, "-c", flag); got != "flag" {
		t.Errorf("-c: %s", got)
	}
	if got := ns("-", "--config="); got != "default" {
		t.Errorf(`--config "": %s`, got)
	}
	os.Unsetenv("LOCKD_CONFIG")
	if _, err := loadSettings([]string{"-c", filepath.Join(home, "missing.yaml")}, io.Discard); err == nil {
		t.Error("a missing named config file was accepted")
	}
}

// TestConfigKeys: unknown keys warn by name and are skipped; v0.9's
// mcp.* keys are left to `lockd mcp`; tc-join sets --join; a bad value
// names the file and line.
func TestConfigKeys(t *testing.T) {
	isolate(t)
	path := writeFile(t, filepath.Join(t.TempDir(), "c.yaml"), `
json-mx: 1MB
mcp:
  listen: 127.0.0.1:19341
mcp.path: /mcp
tc-join: [https://a:9341, https://b:9341]
storage-retry-attempts: 3
default-namespace: fromfile
`)
	s, err := loadSettings([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var unknown []string
	for _, n := range s.notes {
		if strings.HasPrefix(n.msg, "unknown configuration key") {
			unknown = append(unknown, strings.Join(n.kv, " "))
		}
	}
	if len(unknown) != 1 || !strings.Contains(unknown[0], "key json-mx line 2") {
		t.Fatalf("unknown-key warnings: %q", unknown)
	}
	if s.f.cfg.DefaultNamespace != "fromfile" || s.f.cfg.StoreOptions.RetryMaxAttempts != 3 {
		t.Fatalf("ns %q retries %d", s.f.cfg.DefaultNamespace, s.f.cfg.StoreOptions.RetryMaxAttempts)
	}
	if j := s.fs.Lookup("join"); j == nil || !j.Changed || !strings.Contains(j.Value.String(), "https://b:9341") {
		t.Fatalf("tc-join did not set --join: %+v", j)
	}
	bad := writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), "listen: :1\n\ndefault-ttl: forever\n")
	_, err = loadSettings([]string{"-c", bad}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bad+":3") || !strings.Contains(err.Error(), "default-ttl") {
		t.Fatalf("bad value: %v", err)
	}
	list := writeFile(t, filepath.Join(t.TempDir(), "list.yaml"), "listen: [a, b]\n")
	if _, err = loadSettings([]string{"-c", list}, io.Discard); err == nil {
		t.Fatal("a list for a single-valued flag was accepted")
	}
}

// TestV09Table checks the table itself: no duplicates; every implemented
// entry is a real flag (or an alias of one); every example parses; and
// the flags of features being built elsewhere say so.
func TestV09Table(t *testing.T) {
	real, _ := serveFlagSet()
	seen := map[string]bool{}
	building := []string{"ha", "self", "join", "tc-", "qrf-", "lsf-", "connguard-", "otlp-"}
	for _, f := range v09Flags {
		if seen[f.name] {
			t.Errorf("%s listed twice", f.name)
		}
		seen[f.name] = true
		if err := checkKind(f.kind, f.example); err != nil {
			t.Errorf("%s: example: %v", f.name, err)
		}
		target := f.name
		if to := v09Aliases[f.name]; to != "" {
			target = to
		}
		if f.reason == "" && real.Lookup(target) == nil {
			t.Errorf("%s is marked implemented but the server has no such flag", f.name)
		}
		if f.reason == "" || real.Lookup(target) != nil {
			continue // implemented, or shadowed by a real flag since
		}
		for _, p := range building {
			if (f.name == p || strings.HasPrefix(f.name, p)) && !strings.Contains(f.reason, "not in this build yet") {
				t.Errorf("%s belongs to a feature being built; its reason must say it is not in this build yet: %q", f.name, f.reason)
			}
		}
	}
}

// TestEveryV09FlagParses gives every v0.9 flag at once, in its long form
// and its v0.9 one-letter form, as `lockd` would read them.
func TestEveryV09FlagParses(t *testing.T) {
	isolate(t)
	var args []string
	for _, f := range v09Flags {
		args = append(args, "--"+f.name+"="+f.example)
	}
	if _, err := loadSettings(args, io.Discard); err != nil {
		t.Fatalf("v0.9 command line refused: %v", err)
	}
	s, err := loadSettings([]string{"-c", "", "-n", "orders", "-b", "/x/server.pem", "-s", "https://h:1", "-v", "--disk-queue-watch", "--queue-poll-interval", "3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.f.cfg.DefaultNamespace != "orders" || s.f.sec.bundle != "/x/server.pem" {
		t.Fatalf("-n %q -b %q", s.f.cfg.DefaultNamespace, s.f.sec.bundle)
	}
	for _, bad := range [][]string{{"--ha-lease-ttl", "ten"}, {"--qrf-recovery-samples", "x"}, {"--disk-queue-watch=maybe"}} {
		if _, err := loadSettings(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestInertWarnsOnce: an inert flag set on the command line, in the
// environment and in the config file gives one warning, with its reason.
func TestInertWarnsOnce(t *testing.T) {
	isolate(t)
	path := writeFile(t, filepath.Join(t.TempDir(), "c.yaml"), "json-util: stdlib\nqueue-poll-interval: 1s\n")
	t.Setenv("LOCKD_JSON_UTIL", "jsonv2")
	s, err := loadSettings([]string{"-c", path, "--json-util", "lockd"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range s.notes {
		if strings.HasPrefix(n.msg, "flag has no effect: ") {
			count[n.kv[1]]++
		}
	}
	if len(count) != 2 || count["json-util"] != 1 || count["queue-poll-interval"] != 1 {
		t.Fatalf("warnings: %v (%+v)", count, s.notes)
	}
	if s.source("json-util") != fromFlag || s.source("queue-poll-interval") != fromConfig {
		t.Fatalf("sources %q %q", s.source("json-util"), s.source("queue-poll-interval"))
	}
}

// TestTemplateRoundTrip: the template parses back to every default.
func TestTemplateRoundTrip(t *testing.T) {
	isolate(t)
	fs, _ := serverFlags()
	data, err := configTemplate(fs)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "c.yaml"), string(data))
	s, err := loadSettings([]string{"-c", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.notes) != 0 {
		t.Fatalf("template gave warnings: %+v", s.notes)
	}
	n := 0
	eachVisible(s.fs, func(f *pflag.Flag) {
		n++
		if got := f.Value.String(); got != f.DefValue {
			t.Errorf("%s = %q after the template, default %q", f.Name, got, f.DefValue)
		}
		if s.source(f.Name) != fromConfig {
			t.Errorf("%s not set by the template", f.Name)
		}
	})
	if n < 30 {
		t.Fatalf("template covers %d flags", n)
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 100 << 20: "100MiB", 1 << 40: "1TiB", 3 << 10: "3KiB", 1536: "1536", 1500: "1500"} {
		v := n
		if got := (sizeValue{&v}).String(); got != want {
			t.Errorf("%d: %q want %q", n, got, want)
		}
		back, err := parseSize((sizeValue{&v}).String())
		if err != nil || back != n {
			t.Errorf("%d does not round-trip: %d %v", n, back, err)
		}
	}
}
