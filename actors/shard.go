package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Passivate is sent by a shard to a child that has been idle. The child
// calls Reply with whether it may stop (no waiters, no timers it needs).
type Passivate struct {
	id  string
	seq uint64
}

// Reply answers the passivation request from inside the child's Receive.
func (p *Passivate) Reply(ctx actor.Context, ok bool) {
	if ok {
		ctx.Send(ctx.Parent(), passivateOK{id: p.id, seq: p.seq})
	}
}

type envelope struct {
	id  string
	msg any
}

type tickMsg struct{}

type passivateOK struct {
	id  string
	seq uint64
}

type child struct {
	pid     *actor.PID
	seq     uint64 // messages forwarded so far
	lastUse time.Time
	queried uint64 // seq at the last Passivate sent; 0 = none pending
}

// shard owns the children of a slice of the id space.
type shard struct {
	produce  Producer
	cfg      Config
	live     *atomic.Int64
	children map[string]*child
	byPID    map[string]string // child PID id -> actor id
	// peak is the most children the maps have held since they were last
	// rebuilt: Go maps keep their buckets after deletes, so the shard
	// rebuilds them once most children have passivated.
	peak int
	// dispatcher runs the children's mailboxes (see poolDispatcher).
	dispatcher actor.Dispatcher
}

func (s *shard) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case envelope:
		s.forward(ctx, m)
	case tickMsg:
		s.queryIdle(ctx)
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
	if !ok {
		id := m.id
		props := actor.PropsFromProducer(func() actor.Actor { return s.produce(id) }, actor.WithDispatcher(s.dispatcher))
		c = &child{pid: ctx.Spawn(props)}
		s.children[id] = c
		s.byPID[c.pid.Id] = id
		s.live.Add(1)
		s.peak = max(s.peak, len(s.children))
	}
	c.seq++
	c.lastUse = s.cfg.Clock.Now()
	ctx.Send(c.pid, m.msg)
}

func (s *shard) queryIdle(ctx actor.Context) {
	if s.cfg.IdleAfter < 0 {
		return
	}
	s.shrink()
	now := s.cfg.Clock.Now()
	for id, c := range s.children {
		if c.queried == c.seq || now.Sub(c.lastUse) < s.cfg.IdleAfter {
			continue
		}
		c.queried = c.seq
		ctx.Send(c.pid, &Passivate{id: id, seq: c.seq})
	}
}

// passivate stops a child that confirmed idleness, unless a message was
// forwarded to it after the question: that message is in its mailbox and
// must be handled, so the child lives on.
func (s *shard) passivate(ctx actor.Context, m passivateOK) {
	c, ok := s.children[m.id]
	if !ok || c.seq != m.seq {
		return
	}
	s.remove(m.id, c)
	ctx.Poison(c.pid)
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
		s.remove(id, c)
	}
}
