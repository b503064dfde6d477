package queues

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/rs/xid"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/store"
)

// Config configures the queue service. Zero values take the defaults.
type Config struct {
	// DefaultVisibility is a delivery's visibility timeout when neither the
	// dequeue nor the enqueue gave one (default 30s); MaxVisibility caps
	// requested ones (default 30m).
	DefaultVisibility time.Duration
	MaxVisibility     time.Duration
	// DefaultMaxAttempts is how many failures move a message to the DLQ
	// when its enqueue gave no max_attempts (default 5, as lockd v0.9).
	DefaultMaxAttempts int
	// InlineMax is the largest payload kept inside the message record;
	// larger payloads are blobs (default 8 KiB).
	InlineMax int64
	// InlineMemory bounds the inline payload bytes a queue's actor keeps in
	// memory (default 64 MiB). Beyond it payloads stay only in the store
	// and are read back when their record is rewritten or delivered.
	InlineMemory int64
	// State leases workflow state for stateful dequeues (nil: stateful
	// dequeues fail with ErrNoState).
	State StateLeaser
	// Actors configures the registry (shards, idle passivation).
	Actors actors.Config
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// NewID mints lease and transaction ids (default xid); NewMessageID
	// mints message ids (default UUIDv7, as lockd v0.9).
	NewID        func() string
	NewMessageID func() string
	// SweepPageSize and SweepPages bound one SweepOrphans run: that many
	// pages of that many blob names (defaults 1000 and 16).
	SweepPageSize int
	SweepPages    int
}

// Service is the entry point to queue actors. It is safe for concurrent
// use.
type Service struct {
	st        store.Store
	cfg       Config
	clock     clock.Clock
	reg       *actors.Registry
	newID     func() string
	consumers atomic.Int64 // waiting dequeues and subscriptions, all queues
	caller    actors.Caller
}

// New starts the queue service on system over st.
func New(system *actor.ActorSystem, st store.Store, cfg Config) *Service {
	if cfg.DefaultVisibility <= 0 {
		cfg.DefaultVisibility = 30 * time.Second
	}
	if cfg.MaxVisibility <= 0 {
		cfg.MaxVisibility = 30 * time.Minute
	}
	if cfg.DefaultMaxAttempts <= 0 {
		cfg.DefaultMaxAttempts = 5
	}
	if cfg.InlineMax <= 0 {
		cfg.InlineMax = 8 << 10
	}
	if cfg.InlineMemory <= 0 {
		cfg.InlineMemory = 64 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return xid.New().String() }
	}
	if cfg.NewMessageID == nil {
		cfg.NewMessageID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	cfg.Actors.Clock = cfg.Clock
	s := &Service{st: st, cfg: cfg, clock: cfg.Clock, newID: cfg.NewID}
	s.reg = actors.NewRegistry(system, func(id string) actor.Actor {
		return &queueActor{svc: s, ref: parseID(id)}
	}, cfg.Actors)
	// A queue actor's handlers wait on its store only for a local
	// engine's apply (pebble, memory): callers may run it on their
	// goroutine.
	_, local := st.(store.Batcher)
	s.caller = actors.Caller{Registry: s.reg, Unavailable: ErrUnavailable, Abandon: s.abandon, Inline: local}
	return s
}

func (s *Service) settings() settings {
	return settings{
		defaultVisibility: s.cfg.DefaultVisibility, maxVisibility: s.cfg.MaxVisibility,
		defaultMaxAttempts: s.cfg.DefaultMaxAttempts,
	}
}

// actorID names the actor of a queue; the queue and its DLQ share it.
func actorID(r Ref) string { return r.Namespace + "\x00" + r.Queue }

func parseID(id string) Ref {
	ns, q, _ := strings.Cut(id, "\x00")
	return Ref{Namespace: ns, Queue: q}
}

// Handoff makes the actors of queues another node owns now leave memory
// once their in-flight requests are answered; blocked dequeues,
// subscriptions and watches end with ErrMoved (see keyspace.Service.Handoff).
func (s *Service) Handoff(moved func(Ref) bool) {
	s.reg.Handoff(func(id string) bool { return moved(parseID(id)) })
}

// Close stops every queue actor. Subscriptions and watches end with
// ErrUnavailable.
func (s *Service) Close() { s.reg.Close() }

// Live reports how many queue actors are in memory.
func (s *Service) Live() int64 { return s.reg.Live() }

// PassivateIdle passivates idle actors now rather than at the next tick.
func (s *Service) PassivateIdle() { s.reg.PassivateIdle() }

// Consumers reports the waiting dequeues and subscriptions of all queues.
func (s *Service) Consumers() int64 { return s.consumers.Load() }

// call sends op to the queue's actor and waits for its reply and for the
// durability of whatever the reply reflects.
func (s *Service) call(ctx context.Context, ref Ref, op any) (any, error) {
	return s.caller.Call(ctx, actorID(ref), op, nil)
}

// abandon withdraws a request whose caller left. A blocked dequeue is
// cancelled; deliveries made meanwhile are released (they do not count as
// failures) so that nobody waits a visibility timeout for them.
func (s *Service) abandon(id string, req *request) {
	if _, ok := req.Op.(*opDequeue); ok {
		s.reg.SendAfter(id, newRequest(&opCancel{target: req})) // never before its target
	}
	v, ok := req.Late(time.Minute)
	ds, isDeliveries := v.([]*Delivery)
	if !ok || !isDeliveries {
		return
	}
	ctx, cancel := storeCtx()
	defer cancel()
	_ = s.Release(ctx, ds)
}

// collect deletes garbage blobs once the write that unreferenced them is
// durable. Failures leave orphans behind.
func (s *Service) collect(d store.Durable, garbage []string) {
	if d.Wait() != nil {
		return
	}
	ctx, cancel := storeCtx()
	defer cancel()
	for _, n := range garbage {
		_ = s.st.DeleteBlob(ctx, n)
	}
}
