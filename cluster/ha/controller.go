package ha

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/xid"
	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// Controller runs a node's HA mode over the store: it reads and writes the
// lease and member records on a timer, and answers the edge's question
// "may this node serve now?" (Serving) without I/O.
type Controller struct {
	st  store.Backend
	cfg Config
	t   Timings
	clk clock.Clock
	log zerolog.Logger

	mu          sync.Mutex // serializes ticks, Start and Close
	core        *core      // failover and auto; nil in single mode
	timer       clock.Timer
	closed      bool
	nextMembers time.Time
	role        Role   // as last published
	reason      string // as last logged
	serving     bool   // as last logged
	activeFired bool
	lostOnce    sync.Once

	// Read by Serving on every request.
	until  atomic.Pointer[time.Time] // serving deadline; nil: not serving
	ready  atomic.Bool
	leader atomic.Pointer[string]
}

var farFuture = time.Unix(1<<62, 0)

// New makes the controller of mode failover, single or auto over st.
func New(st store.Backend, cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Mode == Concurrent {
		return nil, fmt.Errorf("%w: concurrent mode has no HA controller", ErrInvalidConfig)
	}
	c := &Controller{st: st, cfg: cfg, t: TimingsFor(cfg.LeaseTTL), clk: cfg.Clock,
		log: cfg.Logger.With().Str("sys", "cluster.ha").Str("ha", string(cfg.Mode)).Str("node", cfg.Node.ID).Logger()}
	localNodes.Store(cfg.Node.ID, struct{}{})
	if cfg.Mode != Single {
		c.core = newCore(cfg.Node, cfg.Mode, cfg.LeaseTTL, cfg.Prober, func() string { return xid.New().String() })
	}
	return c, nil
}

// Node is this node's identity in the records.
func (c *Controller) Node() NodeInfo { return c.cfg.Node }

// Timings are the controller's periods.
func (c *Controller) Timings() Timings { return c.t }

// Start makes the node's first decision and starts the timer. It returns
// Active when the node may serve as soon as its state is loaded (the
// caller then calls Ready; OnActive is not called for it), Passive when it
// waits (OnActive comes later), or ErrFenced when a single-mode node finds
// another node on the store.
func (c *Controller) Start(ctx context.Context) (Role, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.core == nil {
		if err := c.startSingle(ctx); err != nil {
			c.closed = true
			localNodes.Delete(c.cfg.Node.ID)
			return Passive, err
		}
		c.role, c.activeFired = Active, true
		c.schedule(c.singleRefresh())
		return Active, nil
	}
	c.tickLocked()
	c.activeFired = c.role == Active
	c.schedule(c.t.Poll)
	return c.role, nil
}

// Ready opens the gate: the node's state is loaded. Until then Serving is
// false even on an active node.
func (c *Controller) Ready() { c.ready.Store(true) }

// Serving reports whether the node may serve a request now. It is false
// on a passive node, before Ready, and on an active node whose lease was
// not renewed within Trust (it fails closed).
func (c *Controller) Serving() bool {
	u := c.until.Load()
	return c.ready.Load() && u != nil && c.clk.Now().Before(*u)
}

// Leader is the endpoint of the node that holds the lease, when another
// node does and is known; "" otherwise.
func (c *Controller) Leader() string {
	if p := c.leader.Load(); p != nil {
		return *p
	}
	return ""
}

// Role is the node's role as of the last tick.
func (c *Controller) Role() Role {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role
}

// Close stops the timer and withdraws the node: an active node releases
// its lease (so a passive one takes over at its next poll, without waiting
// for the TTL) and every node deletes its member record. Call it after the
// node stopped writing domain records.
func (c *Controller) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	defer localNodes.Delete(c.cfg.Node.ID)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.until.Store(nil)
	var errs []error
	if c.core != nil {
		if w := c.core.release(c.clk.Now()); w != nil {
			etag, err := c.st.Put(ctx, LeaseKey, encode(w.Rec), w.Cond)
			c.core.written(c.clk.Now(), w, etag, err)
			if err != nil {
				errs = append(errs, fmt.Errorf("ha: release lease: %w", err))
			} else {
				c.log.Info().Uint64("term", w.Rec.Term).Msg("released the lease")
			}
		}
	}
	if err := c.st.Delete(ctx, MemberKey(c.cfg.Node.ID), store.Cond{}); err != nil && !errors.Is(err, store.ErrNotFound) {
		errs = append(errs, fmt.Errorf("ha: delete member record: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Controller) schedule(d time.Duration) {
	c.timer = c.clk.AfterFunc(d, c.tick)
}

func (c *Controller) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.core == nil {
		c.singleTickLocked()
		c.schedule(c.singleRefresh())
		return
	}
	c.tickLocked()
	if c.role != Lost {
		c.schedule(c.t.Poll)
	}
}

// tickLocked is one round of failover/auto: members (every heartbeat),
// lease read when needed, the core's step, its write, and publication.
func (c *Controller) tickLocked() {
	now := c.clk.Now()
	if !now.Before(c.nextMembers) {
		c.nextMembers = now.Add(c.t.Heartbeat)
		c.heartbeat(now)
	}
	var lease *LeaseView
	if c.core.needsRead() {
		ctx, cancel := context.WithTimeout(context.Background(), c.t.Trust)
		lv, err := ReadLease(ctx, c.st)
		cancel()
		if err != nil {
			c.log.Warn().Err(err).Msg("reading the lease failed")
		} else {
			lease = &lv
		}
	}
	// The read's end is when its result was current: a record's age is
	// measured from then (it may have been written just before).
	if w := c.core.step(c.clk.Now(), lease); w != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.t.Trust)
		etag, err := c.st.Put(ctx, LeaseKey, encode(w.Rec), w.Cond)
		cancel()
		if err != nil && !errors.Is(err, store.ErrConflict) {
			c.log.Warn().Err(err).Str("write", w.Kind).Msg("writing the lease failed")
		}
		c.core.written(c.clk.Now(), w, etag, err)
	}
	c.publish()
}

// heartbeat reads the member records (for peers and single-mode fences)
// and rewrites this node's own.
func (c *Controller) heartbeat(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), c.t.Trust)
	defer cancel()
	members, err := ReadMembers(ctx, c.st)
	if err != nil {
		c.log.Warn().Err(err).Msg("reading member records failed")
	} else {
		peers := livePeers(now, c.cfg.Node.ID, members, c.cfg.Prober)
		if c.cfg.Peers != nil {
			peers = c.cfg.Peers.LivePeers()
		}
		c.core.setMembers(members, peers)
	}
	rec := MemberRecord{Node: c.cfg.Node, Mode: c.cfg.Mode, Active: c.core.role == Active,
		UpdatedAt: now.UnixMilli(), ExpiresAt: now.Add(c.cfg.LeaseTTL).UnixMilli()}
	if _, err := c.st.Put(ctx, MemberKey(c.cfg.Node.ID), encode(rec), store.Cond{}); err != nil {
		c.log.Warn().Err(err).Msg("writing the member record failed")
	}
}

// publish mirrors the core into the gate and tells the caller and the log
// about transitions.
func (c *Controller) publish() {
	k := c.core
	now := c.clk.Now()
	if k.role == Active {
		u := k.validUntil
		c.until.Store(&u)
	} else {
		c.until.Store(nil)
	}
	leader := ""
	if s := k.seen; s.Present && !s.Rec.Released && s.Rec.Holder.ID != c.cfg.Node.ID {
		leader = s.Rec.Holder.Endpoint
	}
	c.leader.Store(&leader)
	prev := c.role
	c.role = k.role
	serving := k.serving(now)
	switch {
	case k.role != prev || k.reason != c.reason:
		ev := c.log.Info()
		if k.role == Lost {
			ev = c.log.Error()
		}
		ev.Str("role", k.role.String()).Uint64("term", k.rec.Term).Str("lease_mode", k.rec.Mode).Msg(k.reason)
	case serving != c.serving && !serving && k.role == Active:
		c.log.Error().Dur("trust", c.t.Trust).Msg("the lease was not renewed in time: not serving until a renewal succeeds")
	case serving != c.serving && serving && prev == Active:
		c.log.Info().Msg("the lease is renewed again: serving")
	}
	c.reason, c.serving = k.reason, serving
	if k.role == Active && !c.activeFired {
		c.activeFired = true
		if f := c.cfg.OnActive; f != nil {
			go f()
		}
	}
	if k.role == Lost {
		err := fmt.Errorf("ha: this node lost the lease: %s", k.reason)
		c.lostOnce.Do(func() {
			if f := c.cfg.OnLost; f != nil {
				go f(err)
			}
		})
	}
}
