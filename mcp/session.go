package mcp

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/sdk"
)

// session is what one MCP session holds: its leases, its unsettled queue
// deliveries and its open transfers. Everything it holds is given back
// when the session ends.
type session struct {
	f  *Facade
	id string

	mu         sync.Mutex
	ended      bool
	leases     map[string]*heldLease // by lease id
	deliveries map[string]*sdk.QueueMessage
	transfers  map[string]*transfer
}

// heldLease is a lease of the session.
type heldLease struct {
	ls  *sdk.LeaseSession
	ttl atomic.Int64 // nanoseconds keepalives renew to
}

func newHeldLease(ls *sdk.LeaseSession, ttl time.Duration) *heldLease {
	l := &heldLease{ls: ls}
	l.ttl.Store(int64(ttl))
	return l
}

func newSession(f *Facade) *session {
	return &session{f: f, id: newID(), leases: map[string]*heldLease{},
		deliveries: map[string]*sdk.QueueMessage{}, transfers: map[string]*transfer{}}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID is a random 20-character lower-case id.
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	s := idEncoding.EncodeToString(b)
	out := make([]byte, len(s))
	for i := range len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// errSessionEnded is returned to calls racing the end of their session.
var errSessionEnded = &ToolError{Code: CodeTimeout, Detail: "the MCP session ended", Next: "Reconnect and start over."}

func (s *session) addLease(l *heldLease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errSessionEnded
	}
	s.pruneLocked(s.f.cfg.Clock.Now())
	if len(s.leases) >= maxLeasesPerSession {
		return &ToolError{Code: CodeTooManyLeases, Detail: "this session holds the maximum number of leases"}
	}
	s.leases[l.ls.LeaseID] = l
	return nil
}

// pruneLocked forgets leases that expired on the server a while ago and
// that the agent never released; the server already cleared them.
func (s *session) pruneLocked(now time.Time) {
	for id, l := range s.leases {
		if l.ls.Err() != nil || now.Sub(l.ls.ExpiresAt()) > time.Minute {
			delete(s.leases, id)
		}
	}
}

func (s *session) lease(id string) (*heldLease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[id]
	if !ok {
		return nil, &ToolError{Code: CodeLeaseNotHeld, Detail: "no lease " + id + " in this session"}
	}
	return l, nil
}

func (s *session) dropLease(id string) {
	s.mu.Lock()
	delete(s.leases, id)
	s.mu.Unlock()
}

// txnLeases returns the session's leases of a transaction, in key order.
func (s *session) txnLeases(txnID string) []*heldLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*heldLease
	for _, l := range s.leases {
		if l.ls.TxnID == txnID {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b *heldLease) int {
		if a.ls.Namespace+"/"+a.ls.Key < b.ls.Namespace+"/"+b.ls.Key {
			return -1
		}
		return 1
	})
	return out
}

func (s *session) leaseList() []*heldLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(s.f.cfg.Clock.Now())
	out := make([]*heldLease, 0, len(s.leases))
	for _, l := range s.leases {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *heldLease) int { return a.ls.ExpiresAt().Compare(b.ls.ExpiresAt()) })
	return out
}

func (s *session) addDelivery(m *sdk.QueueMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errSessionEnded
	}
	s.deliveries[m.ID()] = m
	return nil
}

func (s *session) delivery(id string) (*sdk.QueueMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.deliveries[id]
	if !ok {
		return nil, &ToolError{Code: CodeMessageNotHeld, Detail: "no delivery of message " + id + " in this session"}
	}
	return m, nil
}

func (s *session) dropDelivery(id string) {
	s.mu.Lock()
	delete(s.deliveries, id)
	s.mu.Unlock()
}

// end gives everything back: leases are rolled back, deliveries nacked,
// transfers aborted. It is idempotent.
func (s *session) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	leases, deliveries, transfers := s.leases, s.deliveries, s.transfers
	s.leases, s.deliveries, s.transfers = map[string]*heldLease{}, map[string]*sdk.QueueMessage{}, map[string]*transfer{}
	s.mu.Unlock()
	for _, t := range transfers {
		t.abort()
	}
	var wg sync.WaitGroup
	for _, l := range leases {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), sdk.DefaultCloseTimeout)
			defer cancel()
			if err := l.ls.Rollback(ctx); err != nil {
				s.f.cfg.Logger.Warn("mcp: rollback of a forgotten lease failed", "key", l.ls.Key, "lease_id", l.ls.LeaseID, "err", err)
			}
		})
	}
	for _, m := range deliveries {
		wg.Go(func() {
			if err := m.Close(); err != nil {
				s.f.cfg.Logger.Warn("mcp: nack of an unsettled delivery failed", "queue", m.Queue(), "message_id", m.ID(), "err", err)
			}
		})
	}
	wg.Wait()
	s.f.cfg.Logger.Info("mcp: session ended", "session", s.id, "leases_rolled_back", len(leases),
		"deliveries_nacked", len(deliveries), "transfers_aborted", len(transfers))
}

// registry maps MCP sessions to what they hold.
type registry struct {
	f        *Facade
	mu       sync.Mutex
	closed   bool
	sessions map[*sdkmcp.ServerSession]*session
	wg       sync.WaitGroup
}

// get returns the session of ss, registering it (and a watcher that ends
// it when ss ends) on first use.
func (r *registry) get(ss *sdkmcp.ServerSession) (*session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sessions[ss]; ok {
		return s, nil
	}
	if r.closed {
		return nil, errSessionEnded
	}
	s := newSession(r.f)
	r.sessions[ss] = s
	r.wg.Go(func() {
		_ = ss.Wait()
		r.end(ss)
	})
	return s, nil
}

func (r *registry) end(ss *sdkmcp.ServerSession) {
	r.mu.Lock()
	s := r.sessions[ss]
	delete(r.sessions, ss)
	r.mu.Unlock()
	if s != nil {
		s.end()
	}
}

// all returns the live sessions.
func (r *registry) all() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	return out
}

// close ends every session and refuses new ones.
func (r *registry) close() {
	r.mu.Lock()
	r.closed = true
	sessions := r.sessions
	r.sessions = map[*sdkmcp.ServerSession]*session{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for ss, s := range sessions {
		wg.Go(func() {
			s.end()
			_ = ss.Close()
		})
	}
	wg.Wait()
}
