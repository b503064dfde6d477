package actors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Passivate is sent by a shard to a child that has been idle, or whose id
// another node owns now (Moved). The child calls Reply with whether it may
// stop (no waiters, no timers it needs).
type Passivate struct {
	// Moved: the id's ownership moved to another node (Registry.Handoff).
	// The child answers its waiters with a retryable error, so that they
	// retry on the new owner, and agrees unless it has work it must finish.
	Moved bool
	ok    bool
}

// Reply answers the passivation request from inside the child's Receive.
func (p *Passivate) Reply(_ actor.Context, ok bool) { p.ok = ok }

type envelope struct {
	id  string
	msg any
}

// routed wraps every message the registry delivers, so that a child can
// count them apart from messages it sends itself (timers). Wrappers are
// pooled: each is received by exactly one host, which returns it.
type routed struct{ msg any }

var routedPool = sync.Pool{New: func() any { return new(routed) }}

func wrap(msg any) *routed {
	r := routedPool.Get().(*routed)
	r.msg = msg
	return r
}

type tickMsg struct{}

// handoffMsg sets the shard's moved predicate (Registry.Handoff).
type handoffMsg struct{ moved func(id string) bool }

// passivateOK tells the shard that c retired: it received every message
// counted for it and no sender can count one more.
type passivateOK struct {
	id string
	c  *child
}

type child struct {
	pid *actor.PID
	// mb is the child's mailbox, for senders that run it inline.
	mb *mailbox
	// state is the number of messages counted for the child (by senders,
	// before they send), times two, plus one once the child has retired.
	state atomic.Uint64
	// processed is how many routed messages the child has received; only
	// the child's own goroutine (any incarnation) touches it.
	processed uint64
	// Owned by the shard:
	seen      uint64    // message count at the last look
	lastUse   time.Time // lower bound of the last message's time
	queried   uint64    // count at the last Passivate sent; 0 = none
	queriedAt time.Time // when it was sent
}

// count records one more message for the child; false means the child
// retired and the message must go through the shard.
func (c *child) count() bool {
	for {
		s := c.state.Load()
		if s&1 != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s+2) {
			return true
		}
	}
}

func (c *child) sent() uint64 { return c.state.Load() >> 1 }

// retire marks the child retired if exactly n messages were counted for
// it; it reports whether it did.
func (c *child) retire(n uint64) bool { return c.state.CompareAndSwap(n<<1, n<<1|1) }

// host wraps a child actor. It counts the routed messages and decides
// passivation in mailbox order: it retires only when it has received every
// message counted so far, so no counted message can be left in a mailbox
// that is about to stop (where protoactor would drop it).
type host struct {
	id    string
	c     *child
	inner actor.Actor
	rc    routedCtx
}

// routedCtx shows the inner actor the routed message itself. A host reuses
// one (it handles one message at a time, and actors do not keep their
// context past Receive), so a message costs no allocation here.
type routedCtx struct {
	actor.Context
	msg any
}

func (r *routedCtx) Message() any { return r.msg }

func (h *host) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *routed:
		h.c.processed++
		h.rc.Context, h.rc.msg = ctx, m.msg
		m.msg = nil
		routedPool.Put(m)
		h.inner.Receive(&h.rc)
		h.rc = routedCtx{}
	case *Passivate:
		h.inner.Receive(ctx)
		if m.ok && h.c.retire(h.c.processed) {
			ctx.Send(ctx.Parent(), passivateOK{id: h.id, c: h.c})
		}
	default:
		h.inner.Receive(ctx)
	}
}

// shard owns the children of a slice of the id space.
type shard struct {
	produce  Producer
	cfg      Config
	live     *atomic.Int64
	direct   *sync.Map // the registry's id -> *child
	children map[string]*child
	byPID    map[string]string // child PID id -> actor id
	// peak is the most children the maps have held since they were last
	// rebuilt: Go maps keep their buckets after deletes, so the shard
	// rebuilds them once most children have passivated.
	peak int
	// dispatcher runs the children's mailboxes (see poolDispatcher).
	dispatcher actor.Dispatcher
	// lastLook is when queryIdle last ran. Senders bypass the shard, so
	// a child's use is seen at the next look as a changed message count.
	lastLook time.Time
	// moved tells the ids another node owns now; their children are asked
	// to leave at once and again at every tick until they are gone.
	moved func(id string) bool
}

func (s *shard) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case envelope:
		s.forward(ctx, m)
	case tickMsg:
		s.queryIdle(ctx)
		s.handoff(ctx)
	case handoffMsg:
		s.moved = m.moved
		s.handoff(ctx)
	case passivateOK:
		s.passivate(ctx, m)
	case *actor.Terminated:
		s.forget(m.Who)
		// protoactor's PIDSet.Remove leaves the removed child's *PID in a
		// slot past the end of the parent's children slice, and that PID
		// caches a pointer to the dead process, which reaches the mailbox
		// and the actor with its state: memory would stay at the peak
		// number of children. Stop on a dead PID drops the cached pointer
		// (the stop itself goes to dead letters, which log nothing here).
		ctx.Stop(m.Who)
	}
}

func (s *shard) forward(ctx actor.Context, m envelope) {
	c, ok := s.children[m.id]
	if ok && !c.count() {
		// It retired and its passivateOK is on the way: stop it now and
		// give the message to a fresh child.
		s.remove(m.id, c)
		ctx.Poison(c.pid)
		ok = false
	}
	if !ok {
		id := m.id
		c = &child{lastUse: s.cfg.Clock.Now(), mb: &mailbox{}}
		hc := c
		props := actor.PropsFromProducer(func() actor.Actor { return &host{id: id, c: hc, inner: s.produce(id)} },
			actor.WithDispatcher(s.dispatcher), actor.WithMailbox(func() actor.Mailbox { return hc.mb }))
		c.pid = ctx.Spawn(props)
		c.count()
		s.children[id] = c
		s.byPID[c.pid.Id] = id
		s.direct.Store(id, c)
		s.live.Add(1)
		s.peak = max(s.peak, len(s.children))
	}
	ctx.Send(c.pid, wrap(m.msg))
}

func (s *shard) queryIdle(ctx actor.Context) {
	if s.cfg.IdleAfter < 0 {
		return
	}
	s.shrink()
	now := s.cfg.Clock.Now()
	prev := s.lastLook
	s.lastLook = now
	for _, c := range s.children {
		n := c.sent()
		if n != c.seen { // used since the previous look, at the earliest then
			c.seen, c.lastUse = n, prev
			continue
		}
		if now.Sub(c.lastUse) < s.cfg.IdleAfter {
			continue
		}
		// A child that refused (waiters, or a message still on its way)
		// is asked again after another IdleAfter, even if no message came.
		if c.queried == n && now.Sub(c.queriedAt) < s.cfg.IdleAfter {
			continue
		}
		c.queried, c.queriedAt = n, now
		ctx.Send(c.pid, &Passivate{})
	}
}

// handoff asks the children whose ids moved to another node to leave.
func (s *shard) handoff(ctx actor.Context) {
	if s.moved == nil {
		return
	}
	for id, c := range s.children {
		if s.moved(id) {
			ctx.Send(c.pid, &Passivate{Moved: true})
		}
	}
}

// passivate stops a child that retired, unless forward already did.
func (s *shard) passivate(ctx actor.Context, m passivateOK) {
	if c, ok := s.children[m.id]; ok && c == m.c {
		s.remove(m.id, c)
		ctx.Poison(c.pid)
	}
}

// shrink rebuilds the maps when they hold a quarter of their peak or less,
// so a burst of keys does not pin its bucket memory after passivation.
func (s *shard) shrink() {
	if s.peak < 1024 || len(s.children) > s.peak/4 {
		return
	}
	children := make(map[string]*child, len(s.children))
	byPID := make(map[string]string, len(s.byPID))
	for id, c := range s.children {
		children[id] = c
	}
	for pid, id := range s.byPID {
		byPID[pid] = id
	}
	s.children, s.byPID, s.peak = children, byPID, len(children)
}

func (s *shard) remove(id string, c *child) {
	s.direct.CompareAndDelete(id, c)
	delete(s.children, id)
	delete(s.byPID, c.pid.Id)
	s.live.Add(-1)
}

// forget drops a child that stopped on its own (too many restarts).
func (s *shard) forget(pid *actor.PID) {
	id, ok := s.byPID[pid.Id]
	if !ok {
		return
	}
	if c := s.children[id]; c != nil && c.pid.Id == pid.Id {
		for !c.retire(c.sent()) { // senders go to the shard from now on
		}
		s.remove(id, c)
	}
}
