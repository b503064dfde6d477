package main

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100MB": 100 << 20, "64KiB": 64 << 10, "1024": 1024, "1.5g": 3 << 29, "2 mib": 2 << 20} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "ten"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestEnvMirrorsFlags(t *testing.T) {
	t.Setenv("LOCKD_JSON_MAX", "2MB")
	t.Setenv("LOCKD_DEFAULT_TTL", "45s")
	t.Setenv("LOCKD_LISTEN", "127.0.0.1:1")
	fs, f := serveFlagSet()
	if err := fs.Parse([]string{"--listen", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs, "LOCKD_"); err != nil {
		t.Fatal(err)
	}
	if *f.jsonMax != 2<<20 || f.cfg.DefaultTTL != 45*time.Second {
		t.Fatalf("env not applied: json-max %d ttl %v", *f.jsonMax, f.cfg.DefaultTTL)
	}
	if f.cfg.Listen != "127.0.0.1:2" {
		t.Fatalf("flag must win over env: %s", f.cfg.Listen)
	}
	t.Setenv("LOCKD_MAX_TTL", "forever")
	fs, _ = serveFlagSet()
	fs.Parse(nil)
	if err := applyEnv(fs, "LOCKD_"); err == nil {
		t.Fatal("bad env value accepted")
	}
}
