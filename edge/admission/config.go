package admission

import (
	"runtime"
	"time"
)

// lockd v0.9's defaults (its Default* constants).
const (
	DefaultSoftDelay                   = 50 * time.Millisecond
	DefaultEngagedDelay                = 250 * time.Millisecond
	DefaultRecoveryDelay               = 200 * time.Millisecond
	DefaultMaxWait                     = 5 * time.Second
	DefaultRecoverySamples             = 5
	DefaultMemorySoftLimitPercent      = 75.0
	DefaultMemoryHardLimitPercent      = 85.0
	DefaultMemoryStrictHeadroomPercent = 15.0
	DefaultCPUPercentSoftLimit         = 70.0
	DefaultCPUPercentHardLimit         = 85.0
	DefaultLoadSoftLimitMultiplier     = 4.0
	DefaultLoadHardLimitMultiplier     = 8.0
	DefaultSampleInterval              = 200 * time.Millisecond
	DefaultLogInterval                 = 15 * time.Second
)

// Config holds the QRF thresholds and timings. A zero threshold is off;
// Defaults returns lockd v0.9's defaults (host memory, CPU and load
// guards on, in-flight guards off). Zero delays, MaxWait,
// RecoverySamples, SampleInterval and PacingFloor take their defaults.
type Config struct {
	// Enabled turns admission control on. The zero Config is off, so that
	// embedded servers and tests opt in; the lockd binary is on unless
	// --qrf-disabled.
	Enabled bool

	// In-flight guards, by kind: requests being served (not those being
	// paced). Queue limits count producers, consumers and acks together.
	QueueSoftLimit, QueueHardLimit                 int64
	QueueConsumerSoftLimit, QueueConsumerHardLimit int64
	LockSoftLimit, LockHardLimit                   int64
	QuerySoftLimit, QueryHardLimit                 int64

	// MemorySoft/HardLimitBytes bound the process's RSS.
	MemorySoftLimitBytes, MemoryHardLimitBytes uint64
	// MemorySoft/HardLimitPercent bound host memory in use (total minus
	// MemAvailable).
	MemorySoftLimitPercent, MemoryHardLimitPercent float64
	// MemoryStrictHeadroomPercent is discounted from the memory percent
	// when the host reports no MemAvailable (free+buffers only), which
	// overstates what is in use.
	MemoryStrictHeadroomPercent float64
	// Swap guards: bytes of swap in use, or percent of swap in use.
	SwapSoftLimitBytes, SwapHardLimitBytes     uint64
	SwapSoftLimitPercent, SwapHardLimitPercent float64
	// CPUPercentSoft/HardLimit bound host CPU utilisation (all cores).
	CPUPercentSoftLimit, CPUPercentHardLimit float64
	// LoadSoft/HardLimitMultiplier bound the 1-minute load average as a
	// multiple of the LSF's load baseline (see Observer).
	LoadSoftLimitMultiplier, LoadHardLimitMultiplier float64

	// RecoverySamples healthy samples in a row step engaged → recovery →
	// disengaged (and soft_arm → disengaged).
	RecoverySamples int
	// SoftDelay, EngagedDelay and RecoveryDelay are the base pacing delay
	// of each state; the delay of one request grows with the requests of
	// its kind already waiting (see Decide).
	SoftDelay, EngagedDelay, RecoveryDelay time.Duration
	// MaxWait is the longest a request is paced; a longer computed delay
	// answers 429 throttled at once.
	MaxWait time.Duration
	// PacingFloor is how many requests of a kind may be in flight before
	// host-wide pressure paces that kind (default 8 × GOMAXPROCS).
	PacingFloor int64

	// SampleInterval is the LSF's sampling period (default 200ms);
	// LogInterval how often a sample is logged at debug level (0: never).
	SampleInterval time.Duration
	LogInterval    time.Duration
}

// Defaults returns lockd v0.9's defaults, enabled.
func Defaults() Config {
	return Config{
		Enabled:                     true,
		MemorySoftLimitPercent:      DefaultMemorySoftLimitPercent,
		MemoryHardLimitPercent:      DefaultMemoryHardLimitPercent,
		MemoryStrictHeadroomPercent: DefaultMemoryStrictHeadroomPercent,
		CPUPercentSoftLimit:         DefaultCPUPercentSoftLimit,
		CPUPercentHardLimit:         DefaultCPUPercentHardLimit,
		LoadSoftLimitMultiplier:     DefaultLoadSoftLimitMultiplier,
		LoadHardLimitMultiplier:     DefaultLoadHardLimitMultiplier,
		RecoverySamples:             DefaultRecoverySamples,
		SoftDelay:                   DefaultSoftDelay,
		EngagedDelay:                DefaultEngagedDelay,
		RecoveryDelay:               DefaultRecoveryDelay,
		MaxWait:                     DefaultMaxWait,
		SampleInterval:              DefaultSampleInterval,
		LogInterval:                 DefaultLogInterval,
	}
}

// normalized fills the defaults of zero timings and caps each soft limit
// at its hard limit.
func (c Config) normalized() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SoftDelay, DefaultSoftDelay)
	def(&c.EngagedDelay, DefaultEngagedDelay)
	def(&c.RecoveryDelay, DefaultRecoveryDelay)
	def(&c.MaxWait, DefaultMaxWait)
	def(&c.SampleInterval, DefaultSampleInterval)
	if c.RecoverySamples <= 0 {
		c.RecoverySamples = DefaultRecoverySamples
	}
	if c.PacingFloor <= 0 {
		c.PacingFloor = 8 * int64(runtime.GOMAXPROCS(0))
	}
	capInt(&c.QueueSoftLimit, c.QueueHardLimit)
	capInt(&c.QueueConsumerSoftLimit, c.QueueConsumerHardLimit)
	capInt(&c.LockSoftLimit, c.LockHardLimit)
	capInt(&c.QuerySoftLimit, c.QueryHardLimit)
	capUint(&c.MemorySoftLimitBytes, c.MemoryHardLimitBytes)
	capUint(&c.SwapSoftLimitBytes, c.SwapHardLimitBytes)
	capFloat(&c.MemorySoftLimitPercent, c.MemoryHardLimitPercent)
	capFloat(&c.SwapSoftLimitPercent, c.SwapHardLimitPercent)
	capFloat(&c.CPUPercentSoftLimit, c.CPUPercentHardLimit)
	capFloat(&c.LoadSoftLimitMultiplier, c.LoadHardLimitMultiplier)
	return c
}

// capInt lowers soft to hard when both are set, and makes a lone hard
// limit its own soft limit (so crossing it soft-arms first).
func capInt(soft *int64, hard int64) {
	if hard > 0 && (*soft <= 0 || *soft > hard) {
		*soft = hard
	}
}

func capUint(soft *uint64, hard uint64) {
	if hard > 0 && (*soft == 0 || *soft > hard) {
		*soft = hard
	}
}

func capFloat(soft *float64, hard float64) {
	if hard > 0 && (*soft <= 0 || *soft > hard) {
		*soft = hard
	}
}
