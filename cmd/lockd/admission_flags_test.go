package main

import (
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/edge/connguard"
)

// v09AdmissionFlags are the QRF, LSF and connguard flags lockd v0.9's
// docs/QRF.md lists.
var v09AdmissionFlags = []string{
	"qrf-disabled", "qrf-queue-soft-limit", "qrf-queue-hard-limit", "qrf-queue-consumer-soft-limit",
	"qrf-queue-consumer-hard-limit", "qrf-lock-soft-limit", "qrf-lock-hard-limit", "qrf-query-soft-limit",
	"qrf-query-hard-limit", "qrf-memory-soft-limit", "qrf-memory-hard-limit", "qrf-memory-soft-limit-percent",
	"qrf-memory-hard-limit-percent", "qrf-memory-strict-headroom-percent", "qrf-swap-soft-limit",
	"qrf-swap-hard-limit", "qrf-swap-soft-limit-percent", "qrf-swap-hard-limit-percent", "qrf-cpu-soft-limit",
	"qrf-cpu-hard-limit", "qrf-load-soft-limit-multiplier", "qrf-load-hard-limit-multiplier",
	"qrf-recovery-samples", "qrf-soft-delay", "qrf-engaged-delay", "qrf-recovery-delay", "qrf-max-wait",
	"connguard-enabled", "connguard-failure-threshold", "connguard-failure-window", "connguard-block-duration",
	"connguard-probe-timeout", "lsf-sample-interval", "lsf-log-interval",
}

func TestAdmissionFlagsHaveV09NamesAndDefaults(t *testing.T) {
	fs, f := serveFlagSet()
	for _, name := range v09AdmissionFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("missing flag --%s", name)
		}
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	f.adm.apply(&f.cfg)
	want := admission.Defaults()
	if f.cfg.Admission != want {
		t.Fatalf("QRF defaults\n got %+v\nwant %+v", f.cfg.Admission, want)
	}
	if f.cfg.ConnGuard != connguard.Defaults() {
		t.Fatalf("connguard defaults %+v", f.cfg.ConnGuard)
	}
	if f.cfg.ReadHeaderTimeout != 30*time.Second || f.cfg.RequestTimeout != time.Minute {
		t.Fatalf("timeouts %v %v", f.cfg.ReadHeaderTimeout, f.cfg.RequestTimeout)
	}
}

func TestAdmissionEnvMirrors(t *testing.T) {
	t.Setenv("LOCKD_QRF_DISABLED", "true")
	t.Setenv("LOCKD_QRF_MAX_WAIT", "2s")
	t.Setenv("LOCKD_QRF_LOCK_HARD_LIMIT", "64")
	t.Setenv("LOCKD_QRF_MEMORY_SOFT_LIMIT", "1GB")
	t.Setenv("LOCKD_QRF_CPU_SOFT_LIMIT", "0")
	t.Setenv("LOCKD_LSF_SAMPLE_INTERVAL", "1s")
	t.Setenv("LOCKD_CONNGUARD_ENABLED", "false")
	t.Setenv("LOCKD_CONNGUARD_PROBE_TIMEOUT", "0s")
	t.Setenv("LOCKD_HTTP_READ_HEADER_TIMEOUT", "5s")
	t.Setenv("LOCKD_REQUEST_TIMEOUT", "90s")
	fs, f := serveFlagSet()
	if err := fs.Parse([]string{"--qrf-max-wait", "3s"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs, "LOCKD_"); err != nil {
		t.Fatal(err)
	}
	f.adm.apply(&f.cfg)
	q, g := f.cfg.Admission, f.cfg.ConnGuard
	if q.Enabled || q.MaxWait != 3*time.Second || q.LockHardLimit != 64 || q.MemorySoftLimitBytes != 1<<30 ||
		q.CPUPercentSoftLimit != 0 || q.SampleInterval != time.Second {
		t.Fatalf("qrf from env: %+v", q)
	}
	if g.Enabled || g.ProbeTimeout != 0 || f.cfg.ReadHeaderTimeout != 5*time.Second || f.cfg.RequestTimeout != 90*time.Second {
		t.Fatalf("connguard/timeouts from env: %+v %v %v", g, f.cfg.ReadHeaderTimeout, f.cfg.RequestTimeout)
	}
}
