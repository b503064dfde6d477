package ha

import (
	"errors"
	"fmt"
	"time"

	"github.com/lockdhq/lockd/store"
)

// Role is what a node does with client requests.
type Role int

const (
	// Passive nodes answer API requests 503 node_passive.
	Passive Role = iota
	// Active nodes serve.
	Active
	// Lost is terminal: the node was active and could not renew its lease
	// in time. It serves nothing and must stop.
	Lost
)

func (r Role) String() string {
	switch r {
	case Active:
		return "active"
	case Lost:
		return "lost"
	}
	return "passive"
}

// Lease write kinds.
const (
	writeClaim   = "claim"
	writeRenew   = "renew"
	writeRelease = "release"
)

// LeaseWrite is a write of the lease record that the core asks for. Start
// is when the write is sent: a successful write is trusted from Start, not
// from its answer, because the record may be visible to others from then.
type LeaseWrite struct {
	Kind  string
	Rec   LeaseRecord
	Cond  store.Cond
	Start time.Time
}

// core is the failover state machine of one node (modes failover and
// auto): observations of the lease record and the members and the results
// of its own writes go in, with the time; lease writes and the role come
// out. It does no I/O and reads no clock.
//
// INVARIANT: the node serves (role == Active and now < validUntil) only
// until Trust after the start of its last lease write that succeeded (or
// that a later read showed to have landed). An active node past that
// point serves nothing until a renewal succeeds; it becomes Lost, for
// good, when a read shows the lease in other hands.
type core struct {
	self   NodeInfo
	mode   Mode
	ttl    time.Duration
	t      Timings
	prober Prober
	nonce  func() string

	role   Role
	reason string // why the last transition happened, for the log

	// seen is the lease record as last read; seenAt is when (our clock)
	// a read first returned seen.ETag. A record whose ETag stays the same
	// was not written in between (ETags change on every write).
	seen   LeaseView
	seenAt time.Time

	// The active node's lease: the ETag and content of its last write.
	etag       string
	rec        LeaseRecord
	lastStart  time.Time
	validUntil time.Time
	// confirm: a write of ours failed with an unknown outcome or a
	// conflict; the record must be read before the next write.
	confirm bool
	// attempts are our lease writes by nonce, with their start, so that a
	// read showing our nonce tells which write landed.
	attempts map[string]time.Time

	members []MemberView
	peers   int
	// promoted: an auto node that has written its lease as "failover".
	promoted bool
}

func newCore(self NodeInfo, mode Mode, ttl time.Duration, p Prober, nonce func() string) *core {
	return &core{self: self, mode: mode, ttl: ttl, t: TimingsFor(ttl), prober: p, nonce: nonce,
		attempts: map[string]time.Time{}}
}

// needsRead reports whether the next step needs a fresh read of the lease:
// always for a passive node, and for an active one whose last write has an
// unknown outcome. A healthy active node only writes.
func (c *core) needsRead() bool { return c.role == Passive || (c.role == Active && c.confirm) }

// serving reports whether the node may serve at now.
func (c *core) serving(now time.Time) bool { return c.role == Active && now.Before(c.validUntil) }

// setMembers records the last read of the member records and how many
// other nodes are alive.
func (c *core) setMembers(members []MemberView, peers int) { c.members, c.peers = members, peers }

// step advances the node at now. lease is the record read at now, or nil
// when the node did not read (or the read failed). It returns the lease
// write to make, if any.
func (c *core) step(now time.Time, lease *LeaseView) *LeaseWrite {
	if c.role == Lost {
		return nil
	}
	if lease != nil {
		c.observe(now, *lease)
	}
	switch c.role {
	case Active:
		// A node whose trust ran out has stopped serving but keeps trying:
		// a renewal that succeeds proves (by its condition) that nobody
		// wrote the lease since, so nobody else served meanwhile.
		if c.confirm || (now.Sub(c.lastStart) < c.t.Renew && c.serving(now)) {
			return nil
		}
		return c.renew(now)
	case Passive:
		if lease == nil {
			return nil
		}
		return c.claim(now)
	}
	return nil
}

// observe takes in a read of the lease record.
func (c *core) observe(now time.Time, lv LeaseView) {
	if !lv.Present {
		c.seen, c.seenAt = lv, now
	} else if !c.seen.Present || lv.ETag != c.seen.ETag {
		c.seen, c.seenAt = lv, now
	}
	for n, at := range c.attempts {
		if now.Sub(at) > c.ttl {
			delete(c.attempts, n)
		}
	}
	mine := lv.Present && lv.Rec.Holder.ID == c.self.ID && !lv.Rec.Released
	start, known := c.attempts[lv.Rec.Nonce]
	switch c.role {
	case Active:
		switch {
		case lv.Present && lv.ETag == c.etag:
			c.confirm = false
		case mine && known:
			c.adopt(start, lv)
		case !lv.Present:
			c.lose("the lease record disappeared")
		default:
			c.lose(fmt.Sprintf("the lease is now held by %s (term %d)", lv.Rec.Holder, lv.Rec.Term))
		}
	case Passive:
		if mine && known {
			c.adopt(start, lv)
		}
	}
}

// adopt makes lv, a write of ours that started at start, our lease.
func (c *core) adopt(start time.Time, lv LeaseView) {
	c.etag, c.rec, c.confirm = lv.ETag, lv.Rec, false
	if start.After(c.lastStart) {
		c.lastStart = start
	}
	c.validUntil = c.lastStart.Add(c.t.Trust)
	if c.role == Passive {
		c.role, c.reason = Active, fmt.Sprintf("holds the lease (term %d)", lv.Rec.Term)
	}
}

func (c *core) lose(reason string) {
	c.role, c.reason, c.validUntil = Lost, reason, time.Time{}
}

// blocker returns a single-mode node whose presence forbids claiming.
func (c *core) blocker(now time.Time) (NodeInfo, bool) {
	for _, m := range c.members {
		r := m.Rec
		if r.Node.ID != c.self.ID && r.Mode == Single && r.ExpiresAt > now.UnixMilli() && !c.prober.Dead(r.Node) {
			return r.Node, true
		}
	}
	return NodeInfo{}, false
}

// claim returns the write that takes the lease, when it may be taken: it
// is absent, released, held by a process proven dead, or unchanged for
// Takeover; and no single-mode node serves the store.
func (c *core) claim(now time.Time) *LeaseWrite {
	if n, ok := c.blocker(now); ok {
		c.reason = "a single-mode node serves this store: " + n.String()
		return nil
	}
	lv := c.seen
	if !lv.Present {
		return c.write(now, writeClaim, c.newRecord(now, 1), store.Cond{IfNotExists: true})
	}
	h := lv.Rec.Holder
	free := lv.Rec.Released || h.ID == c.self.ID || c.prober.Dead(h) || now.Sub(c.seenAt) >= c.t.Takeover
	if !free {
		return nil
	}
	return c.write(now, writeClaim, c.newRecord(now, lv.Rec.Term+1), store.Cond{IfMatch: lv.ETag})
}

// renew returns the write that extends our lease; an auto node alone
// marks it "single" until it sees a peer.
func (c *core) renew(now time.Time) *LeaseWrite {
	r := c.rec
	if r.Mode == string(Single) && c.peers > 0 {
		r.Mode = string(Failover)
	}
	r.RenewedAt, r.ExpiresAt, r.TTLMillis = now.UnixMilli(), now.Add(c.ttl).UnixMilli(), c.ttl.Milliseconds()
	return c.write(now, writeRenew, r, store.Cond{IfMatch: c.etag})
}

// release returns the write that hands the lease back on shutdown, or nil
// when the node holds none.
func (c *core) release(now time.Time) *LeaseWrite {
	if c.role != Active {
		return nil
	}
	r := c.rec
	r.Released, r.RenewedAt, r.ExpiresAt = true, now.UnixMilli(), now.UnixMilli()
	return c.write(now, writeRelease, r, store.Cond{IfMatch: c.etag})
}

func (c *core) newRecord(now time.Time, term uint64) LeaseRecord {
	mode := Failover
	if c.mode == Auto && c.peers == 0 {
		mode = Single
	}
	return LeaseRecord{Holder: c.self, Mode: string(mode), Term: term, RenewedAt: now.UnixMilli(),
		ExpiresAt: now.Add(c.ttl).UnixMilli(), TTLMillis: c.ttl.Milliseconds()}
}

func (c *core) write(now time.Time, kind string, r LeaseRecord, cond store.Cond) *LeaseWrite {
	r.Nonce = c.nonce()
	c.attempts[r.Nonce] = now
	return &LeaseWrite{Kind: kind, Rec: r, Cond: cond, Start: now}
}

// written takes in the result of w at now: the new ETag, or the error.
func (c *core) written(now time.Time, w *LeaseWrite, etag string, err error) {
	if c.role == Lost {
		return
	}
	switch {
	case err == nil && w.Kind == writeRelease:
		c.role, c.reason, c.validUntil = Passive, "released the lease", time.Time{}
		c.seen, c.seenAt = LeaseView{Present: true, ETag: etag, Rec: w.Rec}, now
	case err == nil:
		wasPassive, promoted := c.role == Passive, w.Rec.Mode == string(Failover) && c.rec.Mode == string(Single) && c.role == Active
		c.etag, c.rec, c.confirm = etag, w.Rec, false
		c.seen, c.seenAt = LeaseView{Present: true, ETag: etag, Rec: w.Rec}, now
		if w.Start.After(c.lastStart) {
			c.lastStart = w.Start
		}
		c.validUntil = c.lastStart.Add(c.t.Trust)
		delete(c.attempts, w.Rec.Nonce)
		switch {
		case wasPassive:
			c.role, c.reason = Active, fmt.Sprintf("took the lease (term %d, %s)", w.Rec.Term, w.Rec.Mode)
		case promoted:
			c.promoted, c.reason = true, fmt.Sprintf("promoted to failover: %d live peer(s)", c.peers)
		}
	case errors.Is(err, store.ErrConflict):
		if c.role == Active {
			c.confirm = true
		}
	default:
		if c.role == Active {
			c.confirm = true // it may have landed: read before writing again
		}
	}
}
