package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/edge/connguard"
	"github.com/lockdhq/lockd/server"
)

// admissionFlags are lockd v0.9's QRF, LSF and connguard flags (each with
// its LOCKD_* mirror through applyEnv), plus the HTTP timeouts. Limits
// given as sizes (--qrf-memory-soft-limit 2GB) are parsed like --json-max.
type admissionFlags struct {
	qrfDisabled                bool
	memSoft, memHard           *int64
	swapSoft, swapHard         *int64
	connguardOn                bool
	qrf                        admission.Config
	guard                      connguard.Config
	readHeader, idle, bodyIdle time.Duration
	requestTimeout             time.Duration
}

func addAdmissionFlags(fs *pflag.FlagSet) *admissionFlags {
	a := &admissionFlags{qrf: admission.Defaults(), guard: connguard.Defaults()}
	q := &a.qrf
	fs.BoolVar(&a.qrfDisabled, "qrf-disabled", false, "disable QRF admission control (pacing and 429 throttled)")
	fs.Int64Var(&q.QueueSoftLimit, "qrf-queue-soft-limit", 0, "queue requests in flight (producers, consumers, acks) that soft-arm the QRF (0 off)")
	fs.Int64Var(&q.QueueHardLimit, "qrf-queue-hard-limit", 0, "queue requests in flight that engage the QRF (0 off)")
	fs.Int64Var(&q.QueueConsumerSoftLimit, "qrf-queue-consumer-soft-limit", 0, "concurrent queue consumers that soft-arm the QRF (0 off)")
	fs.Int64Var(&q.QueueConsumerHardLimit, "qrf-queue-consumer-hard-limit", 0, "concurrent queue consumers that engage the QRF (0 off)")
	fs.Int64Var(&q.LockSoftLimit, "qrf-lock-soft-limit", 0, "lock and state requests in flight that soft-arm the QRF (0 off)")
	fs.Int64Var(&q.LockHardLimit, "qrf-lock-hard-limit", 0, "lock and state requests in flight that engage the QRF (0 off)")
	fs.Int64Var(&q.QuerySoftLimit, "qrf-query-soft-limit", 0, "query requests in flight that soft-arm the QRF (0 off)")
	fs.Int64Var(&q.QueryHardLimit, "qrf-query-hard-limit", 0, "query requests in flight that engage the QRF (0 off)")
	a.memSoft = newSize(fs, "qrf-memory-soft-limit", 0, "process RSS that soft-arms the QRF, e.g. 2GB (0 off)")
	a.memHard = newSize(fs, "qrf-memory-hard-limit", 0, "process RSS that engages the QRF (0 off)")
	fs.Float64Var(&q.MemorySoftLimitPercent, "qrf-memory-soft-limit-percent", q.MemorySoftLimitPercent, "host memory in use (%) that soft-arms the QRF (0 off)")
	fs.Float64Var(&q.MemoryHardLimitPercent, "qrf-memory-hard-limit-percent", q.MemoryHardLimitPercent, "host memory in use (%) that engages the QRF (0 off)")
	fs.Float64Var(&q.MemoryStrictHeadroomPercent, "qrf-memory-strict-headroom-percent", q.MemoryStrictHeadroomPercent, "percent discounted from memory in use when the host reports no MemAvailable")
	a.swapSoft = newSize(fs, "qrf-swap-soft-limit", 0, "swap in use that soft-arms the QRF (0 off)")
	a.swapHard = newSize(fs, "qrf-swap-hard-limit", 0, "swap in use that engages the QRF (0 off)")
	fs.Float64Var(&q.SwapSoftLimitPercent, "qrf-swap-soft-limit-percent", 0, "swap in use (%) that soft-arms the QRF (0 off)")
	fs.Float64Var(&q.SwapHardLimitPercent, "qrf-swap-hard-limit-percent", 0, "swap in use (%) that engages the QRF (0 off)")
	fs.Float64Var(&q.CPUPercentSoftLimit, "qrf-cpu-soft-limit", q.CPUPercentSoftLimit, "host CPU utilisation (%) that soft-arms the QRF (0 off)")
	fs.Float64Var(&q.CPUPercentHardLimit, "qrf-cpu-hard-limit", q.CPUPercentHardLimit, "host CPU utilisation (%) that engages the QRF (0 off)")
	fs.Float64Var(&q.LoadSoftLimitMultiplier, "qrf-load-soft-limit-multiplier", q.LoadSoftLimitMultiplier, "1-minute load average, as a multiple of the LSF baseline, that soft-arms the QRF (0 off)")
	fs.Float64Var(&q.LoadHardLimitMultiplier, "qrf-load-hard-limit-multiplier", q.LoadHardLimitMultiplier, "load multiple that engages the QRF (0 off)")
	fs.IntVar(&q.RecoverySamples, "qrf-recovery-samples", q.RecoverySamples, "healthy samples in a row that step engaged → recovery → disengaged")
	fs.DurationVar(&q.SoftDelay, "qrf-soft-delay", q.SoftDelay, "base pacing delay while soft-armed")
	fs.DurationVar(&q.EngagedDelay, "qrf-engaged-delay", q.EngagedDelay, "base pacing delay while engaged")
	fs.DurationVar(&q.RecoveryDelay, "qrf-recovery-delay", q.RecoveryDelay, "base pacing delay while recovering")
	fs.DurationVar(&q.MaxWait, "qrf-max-wait", q.MaxWait, "longest a request is paced; a longer computed delay answers 429 throttled with Retry-After")
	fs.Int64Var(&q.PacingFloor, "qrf-pacing-floor", 0, "requests of a kind in flight before host-wide pressure paces that kind (0: 8 × GOMAXPROCS)")
	fs.DurationVar(&q.SampleInterval, "lsf-sample-interval", q.SampleInterval, "how often the LSF samples host and in-flight metrics")
	fs.DurationVar(&q.LogInterval, "lsf-log-interval", q.LogInterval, "how often an LSF sample is logged at debug level (0 never)")
	g := &a.guard
	fs.BoolVar(&a.connguardOn, "connguard-enabled", true, "block source IPs after repeated bad TLS handshakes or probe connections")
	fs.IntVar(&g.FailureThreshold, "connguard-failure-threshold", g.FailureThreshold, "suspicious connections within the window that block a source IP")
	fs.DurationVar(&g.FailureWindow, "connguard-failure-window", g.FailureWindow, "window in which suspicious connections are counted")
	fs.DurationVar(&g.BlockDuration, "connguard-block-duration", g.BlockDuration, "how long a source IP stays blocked")
	fs.DurationVar(&g.ProbeTimeout, "connguard-probe-timeout", g.ProbeTimeout, "how long a plain-TCP connection may take to send its first byte (0 disables probing)")
	fs.DurationVar(&a.readHeader, "http-read-header-timeout", 30*time.Second, "longest wait for a request's headers (not its body)")
	fs.DurationVar(&a.idle, "http-idle-timeout", 2*time.Minute, "keep-alive connections idle this long are closed")
	fs.DurationVar(&a.bodyIdle, "http-body-idle-timeout", time.Minute, "longest pause between reads of a streamed request body")
	fs.DurationVar(&a.requestTimeout, "request-timeout", 60*time.Second, "bound of an ordinary request's work (blocking calls get their wait plus a margin; streams are open-ended)")
	return a
}

// apply copies the flags into the server configuration.
func (a *admissionFlags) apply(cfg *server.Config) {
	a.qrf.Enabled = !a.qrfDisabled
	a.qrf.MemorySoftLimitBytes, a.qrf.MemoryHardLimitBytes = uint64(*a.memSoft), uint64(*a.memHard)
	a.qrf.SwapSoftLimitBytes, a.qrf.SwapHardLimitBytes = uint64(*a.swapSoft), uint64(*a.swapHard)
	a.guard.Enabled = a.connguardOn
	cfg.Admission, cfg.ConnGuard = a.qrf, a.guard
	cfg.ReadHeaderTimeout, cfg.IdleTimeout, cfg.BodyIdleTimeout, cfg.RequestTimeout = a.readHeader, a.idle, a.bodyIdle, a.requestTimeout
}
