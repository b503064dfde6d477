package cluster

import (
	"bytes"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"
)

// delegate gossips this node's metadata; lockd sends no user messages.
type delegate struct{ md *atomic.Pointer[[]byte] }

func (d delegate) NodeMeta(int) []byte               { return *d.md.Load() }
func (delegate) NotifyMsg([]byte)                    {}
func (delegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (delegate) LocalState(bool) []byte              { return nil }
func (delegate) MergeRemoteState(buf []byte, _ bool) {}

// events keeps the member map current. memberlist calls it with its node
// lock held, so it must not call back into memberlist.
type events struct{ c *Cluster }

func (e events) NotifyJoin(n *memberlist.Node)   { e.c.upsert(n, StateAlive) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.c.upsert(n, StateAlive) }

func (e events) NotifyLeave(n *memberlist.Node) {
	// memberlist does not tell a leave from a death here (the node's
	// State field is stale); a leaving node announced itself first.
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[n.Name]
	if !ok {
		m = memberOf(n, StateDead, c.cfg.ID)
	}
	st := StateDead
	if m.State == StateLeft {
		st = StateLeft
		if _, heard := c.leftAt[n.Name]; !heard {
			c.leftAt[n.Name] = time.Now()
		}
	}
	m.State = st
	delete(c.members, n.Name)
	c.departed[n.Name] = m
	c.departedAt[n.Name] = time.Now()
	c.changeLocked()
	c.log.Info().Str("member", m.ID).Str("endpoint", m.Endpoint).Str("state", string(st)).Msg("member departed")
}

func (c *Cluster) upsert(n *memberlist.Node, st State) {
	m := memberOf(n, st, c.cfg.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.members[n.Name]
	delete(c.departed, n.Name)
	delete(c.departedAt, n.Name)
	c.members[n.Name] = m
	if m.State == StateLeft && (!had || old.State != StateLeft) {
		c.leftAt[n.Name] = time.Now()
	}
	if had && old.State == m.State && old.Endpoint == m.Endpoint && old.Gossip == m.Gossip && old.Version == m.Version && slices.Equal(old.Roles, m.Roles) {
		return
	}
	c.changeLocked()
	if !m.Self {
		c.log.Info().Str("member", m.ID).Str("endpoint", m.Endpoint).Str("gossip", m.Gossip).Msg("member joined")
	}
}

func memberOf(n *memberlist.Node, st State, self string) Member {
	md := decodeMeta(n.Meta)
	if md.Leaving {
		st = StateLeft
	}
	return Member{ID: n.Name, Endpoint: md.Endpoint, Gossip: n.Address(), State: st,
		Version: md.Version, Roles: md.Roles, Self: n.Name == self}
}

// changeLocked publishes a new view and wakes the watchers; c.mu held.
func (c *Cluster) changeLocked() {
	c.epoch++
	c.publishLocked()
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Cluster) publish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishLocked()
}

// publishLocked builds the view of the owning members; c.mu held. A
// member without an endpoint cannot be forwarded to and owns nothing.
func (c *Cluster) publishLocked() {
	v := &view{epoch: c.epoch, self: -1}
	if c.fence != nil && c.fence.after > 0 && c.fence.grace > 0 {
		now := time.Now()
		for id, at := range c.leftAt {
			if until := at.Add(c.fence.grace); now.Before(until) {
				v.left = append(v.left, leftMember{hash: idHash(id), until: until.UnixNano()})
			} else {
				delete(c.leftAt, id)
			}
		}
	}
	if c.fence != nil && c.fence.after > 0 {
		// A member declared dead may still be serving: the death may
		// come from another node's stale gossip (a node back from a
		// partition relays the deaths it declared meanwhile), not from
		// this node's own suspicion timeout, which the member would have
		// refuted in time or fenced itself before. Its self-fencing stops
		// it at most FenceAfter after the last member list of this node
		// that showed it alive, so its refs wait that long here.
		now := time.Now()
		for id, m := range c.departed {
			if at, ok := c.departedAt[id]; ok && m.State == StateDead {
				if until := at.Add(c.fence.after); now.Before(until) {
					v.left = append(v.left, leftMember{hash: idHash(id), until: until.UnixNano()})
				}
			}
		}
	}
	for _, m := range c.members {
		if m.State.Owning() && m.Endpoint != "" {
			v.members = append(v.members, m)
		}
	}
	slices.SortFunc(v.members, func(a, b Member) int { return compare(a.ID, b.ID) })
	for i, m := range v.members {
		v.ids = append(v.ids, m.ID)
		v.hashes = append(v.hashes, idHash(m.ID))
		if m.Self {
			v.self = i
		}
	}
	c.view.Store(v)
}

// logWriter turns memberlist's log lines into zerolog events: errors as
// warnings (a peer went away, a packet did not decrypt), the rest debug.
type logWriter struct{ l zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	switch {
	case bytes.Contains(p, []byte("[ERR]")):
		w.l.Warn().Msg(line)
	case bytes.Contains(p, []byte("[WARN]")):
		w.l.Info().Msg(line)
	default:
		w.l.Debug().Msg(line)
	}
	return len(p), nil
}
