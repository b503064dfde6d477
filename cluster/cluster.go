package cluster

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/xid"
	"github.com/rs/zerolog"
)

// Config configures a node's membership.
type Config struct {
	// ID is the node's identity; empty makes a fresh xid (the default: an
	// identity per start, see the package doc).
	ID string
	// Self is this node's API base URL as other nodes and clients reach it
	// (--self); required.
	Self string
	// Listen is the gossip bind address host:port (--cluster-listen); port
	// 0 takes any free port (seeds given as API URLs find it).
	Listen string
	// Advertise is the gossip address host:port the other nodes reach
	// this one at (--cluster-advertise), when it differs from Listen: a
	// NAT, a port mapping, a relay. Empty: Listen's address (or --self's
	// host when Listen binds every interface).
	Advertise string
	// Join are the seeds (--join): gossip host:port addresses or API URLs
	// (http[s]://…), whose gossip address is read from their
	// /v1/cluster/members. Empty: this node starts a cluster of its own.
	Join []string
	// Key encrypts and authenticates gossip (DeriveKey); nil gossips in
	// plaintext.
	Key []byte
	// Version and Roles are gossiped as node metadata.
	Version string
	Roles   []string
	// HTTPClient resolves seeds given as API URLs (mTLS when the cluster
	// serves it); nil uses http.DefaultClient.
	HTTPClient *http.Client
	// JoinRetry is the pause between join attempts while no seed answers
	// (default 1s).
	JoinRetry time.Duration
	// FenceAfter is how long this node keeps serving the refs it owns
	// without fresh evidence that a quorum of its members sees it alive
	// (fence.go). 0 takes the default, derived from the failure
	// detector's timing (DefaultFenceAfter); negative turns self-fencing
	// off (Serving is then always true).
	FenceAfter time.Duration
	// HandoffGrace is how long a node that starts serving (at its start,
	// or after a partition) waits, once every member has shown it alive,
	// before it serves the refs it owns: the time the nodes that served
	// them until they heard of it have to answer what they were serving
	// (fence.go, the hand-off barrier). 0 takes DefaultHandoffGrace;
	// negative takes over at once. Without self-fencing there is no
	// barrier.
	HandoffGrace time.Duration
	Logger       zerolog.Logger
}

// ErrConfig is returned by Start for an unusable configuration.
var ErrConfig = errors.New("cluster: invalid configuration")

// Cluster is this node's membership. It is safe for concurrent use.
type Cluster struct {
	cfg  Config
	ml   *memberlist.Memberlist
	self Member
	log  zerolog.Logger

	view   atomic.Pointer[view]
	joined atomic.Bool
	// rejoining is set while a join of members seen dead runs.
	rejoining atomic.Bool
	md        atomic.Pointer[[]byte] // gossiped metadata

	mu       sync.Mutex
	members  map[string]Member // by ID, from memberlist events
	departed map[string]Member // dead or left, kept for Members
	// departedAt is when each member of departed was declared dead or left
	// (joinLoop rejoins them for a while).
	departedAt map[string]time.Time
	// leftAt is when each member that left gracefully was heard leaving,
	// for the hand-off grace of its refs (view.left).
	leftAt  map[string]time.Time
	changed chan struct{} // closed at the next change
	epoch   uint64

	fence *fence
	// shown is Serving as last published with a change (reevaluate).
	shown atomic.Bool
	// leaving is set when Close begins: this node serves no ref anymore.
	leaving atomic.Bool

	stop chan struct{}
	wg   sync.WaitGroup // joinLoop, fenceLoop
}

// view is an immutable snapshot of the owning members, sorted by ID, with
// their hashes precomputed for the request path.
type view struct {
	members []Member
	ids     []string
	hashes  []uint64
	epoch   uint64
	self    int // index of this node, -1 when it is not owning
	// left are the members that left gracefully within the hand-off
	// grace, or were declared dead within FenceAfter, with the end of
	// the wait of each (HandoffWait).
	left []leftMember
}

// leftMember is a member that left gracefully or was declared dead: the
// refs it owned are served by their new owners from until (unix ns).
type leftMember struct {
	hash  uint64
	until int64
}

// Start creates the gossip endpoint and begins joining the seeds in the
// background; Ready reports when this node has joined. Close leaves the
// cluster.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Self == "" {
		return nil, fmt.Errorf("%w: --self (this node's API URL) is required", ErrConfig)
	}
	if cfg.ID == "" {
		cfg.ID = xid.New().String()
	}
	if cfg.JoinRetry <= 0 {
		cfg.JoinRetry = time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Key != nil && len(cfg.Key) != KeySize {
		return nil, fmt.Errorf("%w: gossip key must be %d bytes", ErrConfig, KeySize)
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger.With().Str("sys", "cluster.membership").Logger(),
		members: map[string]Member{}, departed: map[string]Member{}, departedAt: map[string]time.Time{}, leftAt: map[string]time.Time{}, changed: make(chan struct{}),
		stop: make(chan struct{})}
	md, err := c.meta(false).encode()
	if err != nil {
		return nil, err
	}
	c.md.Store(&md)
	mc, err := c.memberlistConfig()
	if err != nil {
		return nil, err
	}
	c.fence = newFence(cfg.ID, c.fenceAfter(mc))
	switch {
	case cfg.HandoffGrace == 0:
		c.fence.grace = DefaultHandoffGrace
	case cfg.HandoffGrace > 0:
		c.fence.grace = cfg.HandoffGrace
	}
	c.shown.Store(c.fence.after == 0)
	c.publish() // an empty view until memberlist announces us
	if c.ml, err = memberlist.Create(mc); err != nil {
		mc.Transport.Shutdown()
		return nil, fmt.Errorf("cluster: gossip on %s: %w", cfg.Listen, err)
	}
	ln := c.ml.LocalNode()
	c.self = Member{ID: cfg.ID, Endpoint: cfg.Self, Gossip: ln.Address(), State: StateAlive,
		Version: cfg.Version, Roles: cfg.Roles, Self: true}
	c.mu.Lock()
	c.members[cfg.ID] = c.self
	c.changeLocked()
	c.mu.Unlock()
	c.wg.Add(2)
	go c.joinLoop()
	go c.fenceLoop()
	return c, nil
}

func (c *Cluster) meta(leaving bool) meta {
	return meta{Endpoint: c.cfg.Self, Version: c.cfg.Version, Roles: c.cfg.Roles, Leaving: leaving}
}

func (c *Cluster) memberlistConfig() (*memberlist.Config, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.cfg.ID
	mc.Label = "lockd"
	host, port, err := net.SplitHostPort(c.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: --cluster-listen %q: %v", ErrConfig, c.cfg.Listen, err)
	}
	if mc.BindPort, err = strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("%w: --cluster-listen %q: bad port", ErrConfig, c.cfg.Listen)
	}
	mc.BindAddr = host
	if host == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.Logger = log.New(logWriter{c.log}, "", 0)
	t, bound, err := newTransport(mc.BindAddr, mc.BindPort, mc.Logger)
	if err != nil {
		return nil, err
	}
	mc.Transport, mc.BindPort, mc.AdvertisePort = t, bound, bound
	if c.cfg.Advertise != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = advertise(c.cfg.Advertise); err != nil {
			t.Shutdown()
			return nil, err
		}
	} else if ip := net.ParseIP(mc.BindAddr); ip == nil || ip.IsUnspecified() {
		// Advertise the host of --self when it is an address, so a node
		// without a private interface (a laptop, a container on
		// loopback) still has something to advertise.
		if u, err := url.Parse(c.cfg.Self); err == nil && net.ParseIP(u.Hostname()) != nil {
			mc.AdvertiseAddr = u.Hostname()
		}
	}
	if c.cfg.Key != nil {
		if mc.Keyring, err = memberlist.NewKeyring(nil, c.cfg.Key); err != nil {
			t.Shutdown()
			return nil, fmt.Errorf("cluster: keyring: %w", err)
		}
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	mc.Delegate = delegate{md: &c.md}
	mc.Events = events{c}
	return mc, nil
}

// Self is this node.
func (c *Cluster) Self() Member { return c.self }

// Ready reports whether the node has joined its seeds (or needs none).
func (c *Cluster) Ready() bool { return c.joined.Load() }

// Changed returns a channel that is closed at the next membership change.
func (c *Cluster) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Epoch counts membership changes; it grows at every change.
func (c *Cluster) Epoch() uint64 { return c.view.Load().epoch }

// Live returns the members that own refs (alive or suspect), sorted by ID.
// The slice must not be modified.
func (c *Cluster) Live() []Member { return c.view.Load().members }

// Owner returns the member that owns (kind, ns, name); ok is false only
// before this node has announced itself.
func (c *Cluster) Owner(kind Kind, ns, name string) (Member, bool) {
	v := c.view.Load()
	i := ownerOf(v.ids, v.hashes, kind, ns, name)
	if i < 0 {
		return Member{}, false
	}
	return v.members[i], true
}

// HandoffWait returns how long this node, which owns (kind, ns, name),
// must still wait before it serves it: while the member that owned it
// before left gracefully less than the hand-off grace ago, that member may
// still be answering requests it had in flight (a write of the key that
// lands after this node loaded it); while it was declared dead less than
// FenceAfter ago, it may not have fenced itself yet (publishLocked). 0
// for every other ref.
func (c *Cluster) HandoffWait(kind Kind, ns, name string) time.Duration {
	v := c.view.Load()
	if len(v.left) == 0 || v.self < 0 {
		return 0
	}
	now := time.Now().UnixNano()
	h := refHash(kind, ns, name)
	self := weight(h, v.hashes[v.self])
	var until int64
	for _, l := range v.left {
		if l.until > now && l.until > until && weight(h, l.hash) > self {
			until = l.until
		}
	}
	if until == 0 {
		return 0
	}
	return time.Duration(until - now)
}

// Leaving reports whether this node is leaving the cluster (Close began):
// it serves none of its refs anymore.
func (c *Cluster) Leaving() bool { return c.leaving.Load() }

// Owns reports whether this node owns (kind, ns, name).
func (c *Cluster) Owns(kind Kind, ns, name string) bool {
	v := c.view.Load()
	i := ownerOf(v.ids, v.hashes, kind, ns, name)
	return i < 0 || i == v.self
}

// Members returns every member this node knows of, the departed included,
// sorted by ID, with each live member's current state.
func (c *Cluster) Members() []Member {
	states := map[string]State{}
	if c.ml != nil {
		for _, n := range c.ml.Members() {
			states[n.Name] = stateOf(n.State)
		}
	}
	c.mu.Lock()
	out := make([]Member, 0, len(c.members)+len(c.departed))
	for _, m := range c.members {
		if s, ok := states[m.ID]; ok {
			m.State = s
		}
		out = append(out, m)
	}
	for _, m := range c.departed {
		out = append(out, m)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return compare(a.ID, b.ID) })
	return out
}

// Close leaves the cluster gracefully, waiting up to timeout for each of
// its two messages to go out, and stops gossiping. First it announces that
// it is leaving (the others stop routing to it and take over its refs at
// once, and later show it as left rather than dead), then it leaves.
func (c *Cluster) Close(timeout time.Duration) error {
	select {
	case <-c.stop:
		return nil
	default:
	}
	// From here on no request is served from this node's memory: the
	// others take its refs over once they hear it leave, after the
	// hand-off grace for what it still has in flight.
	c.leaving.Store(true)
	close(c.stop)
	c.wg.Wait()
	var errs []error
	if md, err := c.meta(true).encode(); err == nil {
		c.md.Store(&md)
		errs = append(errs, c.ml.UpdateNode(timeout))
	}
	errs = append(errs, c.ml.Leave(timeout), c.ml.Shutdown())
	return errors.Join(errs...)
}

// Abort stops gossiping without a leave message (tests of failure
// detection).
func (c *Cluster) Abort() error {
	select {
	case <-c.stop:
		return nil
	default:
	}
	close(c.stop)
	c.wg.Wait()
	return c.ml.Shutdown()
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func stateOf(s memberlist.NodeStateType) State {
	switch s {
	case memberlist.StateAlive:
		return StateAlive
	case memberlist.StateSuspect:
		return StateSuspect
	case memberlist.StateLeft:
		return StateLeft
	}
	return StateDead
}
