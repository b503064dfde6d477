package server

import (
	"context"
	"time"

	"github.com/rs/xid"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/cluster/tc"
	"github.com/lockdhq/lockd/edge"
	"github.com/lockdhq/lockd/txn"
)

// The transaction coordinator's cluster side: every node campaigns for the
// TC leader lease of its store, keeps its membership lease and its RM
// registration fresh, and the leader replays unapplied decisions.

// newTC builds the TC state of this node; it does no I/O.
func (s *Server) newTC(hash string) *edge.TC {
	id, endpoint := xid.New().String(), s.URL()
	var alive func(string) bool
	if cl := s.cluster; cl != nil {
		self := cl.Self()
		id, endpoint = self.ID, self.Endpoint
		alive = func(member string) bool {
			if !cl.Ready() || !cl.Serving() {
				// Not joined yet, or self-fenced (cluster/fence.go): this
				// node's verdict that the holder is dead is its own (a
				// cut node declares everybody dead); trust the lease.
				return true
			}
			for _, m := range cl.Live() {
				if m.ID == member {
					return true
				}
			}
			return false
		}
	} else {
		// Alone on the store: a holder that is not this process is a
		// previous incarnation.
		alive = func(member string) bool { return member == id }
	}
	ttl := s.cfg.TCLeaseTTL
	return &edge.TC{
		Elector:     tc.NewElector(tc.Config{Store: s.st, ID: id, Endpoint: endpoint, TTL: ttl, Alive: alive, Clock: s.cfg.Clock, Log: s.cfg.Logger}),
		Members:     tc.NewMembers(s.st, s.cfg.Clock, ttl),
		Registry:    tc.NewRegistry(s.st, s.cfg.Clock),
		BackendHash: hash,
	}
}

// leadership adapts the elector to txn.Leadership. A self-fenced node
// (cluster/fence.go) does not lead: the others may have elected a leader
// of a newer term on their verdict that it is dead, and a decision it
// made now would be acknowledged and then refused by the participants
// (stale tc_term) until the new leader replays it.
type leadership struct {
	e  *tc.Elector
	cl *cluster.Cluster // nil without clustering
}

func (l leadership) Leading() (uint64, bool) {
	if l.cl != nil && !l.cl.Serving() {
		return 0, false
	}
	return l.e.Leading()
}

func (l leadership) LeaderEndpoint() string {
	ld := l.e.Leader()
	if ld.ID == l.e.ID() || time.Now().UnixMilli() >= ld.ExpiresMs {
		return "" // this node (not leading any more) or nobody: wait for the election
	}
	return ld.Endpoint
}

func (l leadership) CurrentTerm(ctx context.Context) (uint64, error) {
	ld, err := l.e.Current(ctx)
	return ld.Term, err
}

var _ txn.Leadership = leadership{}

// startTC takes part in the election (one round at once, so that a node
// alone on its store leads before it recovers transactions), keeps this
// node's membership lease and RM registration, and runs the replay loop.
func (s *Server) startTC() {
	t := s.tc
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := s.cfg.Logger.With().Str("sys", "txn.tc").Logger()
	if _, err := t.Elector.Step(ctx); err != nil {
		log.Warn().Err(err).Msg("first TC leader round failed; retrying")
	}
	if t.BackendHash != "" {
		if _, err := t.Registry.Register(ctx, t.BackendHash, t.Elector.Endpoint()); err != nil {
			log.Warn().Err(err).Msg("registering this node as resource manager failed")
		}
	}
	var changed func() <-chan struct{}
	if s.cluster != nil {
		changed = s.cluster.Changed
	}
	s.goBG(func() { t.Elector.Run(s.bgCtx, changed) })
	s.goBG(s.announceLoop)
	s.goBG(func() { s.txns.Run(s.bgCtx) })
}

// announceLoop keeps this node's TC membership lease.
func (s *Server) announceLoop() {
	t := s.tc
	tick := time.NewTicker(t.Elector.TTL() / 3)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.bgCtx, t.Elector.TTL()/2)
		if _, _, err := t.Members.Announce(ctx, t.Elector.ID(), t.Elector.Endpoint()); err != nil {
			s.cfg.Logger.Warn().Err(err).Str("sys", "txn.tc").Msg("renewing the TC membership lease failed")
		}
		cancel()
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

// stopTC leaves the TC membership and the RM registry and releases the
// leader lease, so that another node leads at once (graceful close).
func (s *Server) stopTC() {
	t := s.tc
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t.Members.Leave(ctx, t.Elector.ID())
	if t.BackendHash != "" {
		t.Registry.Unregister(ctx, t.BackendHash, t.Elector.Endpoint())
	}
	if term, ok := t.Elector.Leading(); ok {
		t.Elector.Release(ctx, t.Elector.ID(), term)
	}
}
