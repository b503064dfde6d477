package ha

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
)

// Mode is how nodes that share one store coordinate (lockd v0.9's
// --ha values).
type Mode string

// The HA modes.
const (
	// Failover: one node is active and holds the lease record
	// .ha/activelease; the others are passive and answer 503 node_passive
	// until the active node stops renewing, then one of them takes over.
	Failover Mode = "failover"
	// Concurrent: every node serves; no HA records are written.
	Concurrent Mode = "concurrent"
	// Single: one operator-managed node; its presence record makes a
	// second node on the same store refuse to start.
	Single Mode = "single"
	// Auto: serve alone like single (holding the lease marked "single"),
	// and turn into failover as soon as another live node appears.
	Auto Mode = "auto"
)

// Defaults and limits of lockd v0.9.
const (
	DefaultMode        = Failover
	DefaultLeaseTTL    = 10 * time.Second
	MinLeaseTTL        = 5 * time.Second
	DefaultPresenceTTL = 5 * time.Minute
)

// ErrInvalidConfig is returned by Config.Validate and ParseMode.
var ErrInvalidConfig = errors.New("ha: invalid configuration")

// ParseMode reads a --ha value (case-insensitive; "" is the default).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return DefaultMode, nil
	case Failover, Concurrent, Single, Auto:
		return m, nil
	}
	return "", fmt.Errorf("%w: --ha %q: want failover, concurrent, single or auto", ErrInvalidConfig, s)
}

// Config configures a node's HA controller.
type Config struct {
	// Mode is Failover, Single or Auto (Concurrent needs no controller).
	Mode Mode
	// LeaseTTL bounds failover: a passive node takes over at most LeaseTTL
	// after the active node's last renewal (default 10s, at least 5s).
	LeaseTTL time.Duration
	// PresenceTTL is how long a single-mode presence record fences other
	// nodes after its last refresh (default 5m).
	PresenceTTL time.Duration
	// Endpoint is this node's API URL, shown to clients of passive nodes
	// (leader_endpoint) and in the records.
	Endpoint string
	// Peers, when set, tells how many other nodes are alive (cluster
	// membership); nil counts the nodes' member records in the store.
	Peers Peers
	// Prober proves a recorded node dead; nil uses LocalProber.
	Prober Prober
	// OnActive is called, in its own goroutine, when a node that started
	// passive becomes active. The caller loads its state and then calls
	// Controller.Ready; until then the gate stays closed.
	OnActive func()
	// OnLost is called once, in its own goroutine, when an active node
	// could not renew its lease in time: the gate is already closed, and
	// the node must stop (fail closed).
	OnLost func(error)
	Clock  clock.Clock
	Logger zerolog.Logger
	// Node overrides this process's identity (tests); zero uses Self.
	Node NodeInfo
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.PresenceTTL == 0 {
		c.PresenceTTL = DefaultPresenceTTL
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Prober == nil {
		c.Prober = LocalProber{}
	}
	if c.Node.ID == "" {
		c.Node = Self(c.Endpoint)
	}
	return c
}

// Validate checks the durations (zero means the default).
func (c Config) Validate() error {
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return err
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < MinLeaseTTL {
		return fmt.Errorf("%w: --ha-lease-ttl %s is below the minimum of %s: a shorter lease would make the active node give up on ordinary store latency",
			ErrInvalidConfig, c.LeaseTTL, MinLeaseTTL)
	}
	if c.PresenceTTL < 0 || (c.PresenceTTL > 0 && c.PresenceTTL < MinLeaseTTL) {
		return fmt.Errorf("%w: --ha-single-presence-ttl %s is below the minimum of %s", ErrInvalidConfig, c.PresenceTTL, MinLeaseTTL)
	}
	return nil
}

// Timings are the periods derived from the lease TTL T. Their relations
// are what makes failover safe and bounded (docs/HA.md):
//
//	Renew < Trust < Takeover             the holder renews long before it stops trusting its lease,
//	                                     and stops well before anyone may claim it;
//	Renew + Takeover + 2·Poll = 0.85·T   a passive node takes over within T of the holder's death,
//	                                     with 0.15·T left for store latency and loading.
type Timings struct {
	// Renew: the active node rewrites the lease this long after its last
	// successful write started (T/10).
	Renew time.Duration
	// Poll: every node reads the lease this often (T/20).
	Poll time.Duration
	// Trust: the active node serves until this long after the start of
	// its last successful lease write, then stops (9T/20).
	Trust time.Duration
	// Takeover: a passive node claims the lease once the record has not
	// changed for this long, measured on its own clock (13T/20).
	Takeover time.Duration
	// Heartbeat: every node rewrites its member record this often (T/4).
	Heartbeat time.Duration
}

// TimingsFor derives the timings of lease TTL t.
func TimingsFor(t time.Duration) Timings {
	return Timings{Renew: t / 10, Poll: t / 20, Trust: t * 9 / 20, Takeover: t * 13 / 20, Heartbeat: t / 4}
}
