package actors

import (
	"hash/maphash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/internal/clock"
)

// Producer makes the actor for id. It is called again on every restart.
type Producer func(id string) actor.Actor

// Config configures a Registry.
type Config struct {
	// Shards is the number of parent actors ids are spread over (default 16).
	Shards int
	// IdleAfter is how long a child may go without messages before the
	// shard asks it to passivate (default 30s; <0 disables passivation).
	// Shards notice use at each Tick, so the question comes between
	// IdleAfter-Tick and IdleAfter+Tick after the last message.
	IdleAfter time.Duration
	// Tick is how often shards look for idle children (default IdleAfter/4,
	// at least 10ms).
	Tick time.Duration
	// MaxRestarts within RestartWindow before a panicking child is stopped
	// (defaults 10 within 10s).
	MaxRestarts   int
	RestartWindow time.Duration
	// Clock measures idleness (default the wall clock).
	Clock clock.Clock
	// OnTick, if set, runs at every idle check (each Tick, and each
	// PassivateIdle), outside any actor: the owner of the registry tidies
	// its own per-id tables there.
	OnTick func()
}

// Registry routes messages to per-id actors. It is safe for concurrent use.
//
// A message for a live actor goes straight to its mailbox: the registry
// keeps live children in a concurrent map, and a sender counts its message
// in the child's state word before sending it. A child agrees to passivate
// only in mailbox order, by marking that word retired when the count still
// equals the messages it has received (see host), so every counted message
// has been handled and no sender can count another; senders that find a
// child retired (or none) go through its shard, which stops the retired
// child and spawns a fresh one. So no message reaches a stopping actor,
// where protoactor would drop it.
type Registry struct {
	system *actor.ActorSystem
	shards []*actor.PID
	seed   maphash.Seed
	live   atomic.Int64
	direct sync.Map // id -> *child, while the child is live
	stop   chan struct{}
	done   chan struct{}
	onTick func()
}

// NewSystem returns a protoactor system that logs nothing.
func NewSystem() *actor.ActorSystem {
	quiet := func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return actor.NewActorSystem(actor.WithLoggerFactory(quiet))
}

// NewRegistry spawns the shards on system and starts their idle ticker.
func NewRegistry(system *actor.ActorSystem, produce Producer, cfg Config) *Registry {
	cfg = cfg.withDefaults()
	r := &Registry{system: system, seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{}), onTick: cfg.OnTick}
	strategy := actor.NewOneForOneStrategy(cfg.MaxRestarts, cfg.RestartWindow, func(any) actor.Directive {
		return actor.RestartDirective
	})
	dispatcher := newPoolDispatcher(300, time.Minute)
	for i := 0; i < cfg.Shards; i++ {
		props := actor.PropsFromProducer(func() actor.Actor {
			return &shard{produce: produce, cfg: cfg, live: &r.live, direct: &r.direct, lastLook: cfg.Clock.Now(), children: map[string]*child{}, byPID: map[string]string{}, dispatcher: dispatcher}
		}, actor.WithSupervisor(strategy), actor.WithDispatcher(dispatcher))
		r.shards = append(r.shards, system.Root.Spawn(props))
	}
	if cfg.IdleAfter > 0 {
		go r.tick(cfg.Tick)
	} else {
		close(r.done)
	}
	return r
}

func (c Config) withDefaults() Config {
	if c.Shards <= 0 {
		c.Shards = 16
	}
	if c.IdleAfter == 0 {
		c.IdleAfter = 30 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = max(c.IdleAfter/4, 10*time.Millisecond)
	}
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = 10
	}
	if c.RestartWindow <= 0 {
		c.RestartWindow = 10 * time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

func (r *Registry) tick(every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.PassivateIdle()
		}
	}
}

// Send delivers msg to the actor for id, spawning it if needed. Two
// messages one goroutine sends to the same id may arrive in either order
// when the first went through the shard and the second did not; a message
// that must follow one still in flight is sent with SendAfter.
func (r *Registry) Send(id string, msg any) {
	if v, ok := r.direct.Load(id); ok && v.(*child).count() {
		r.system.Root.Send(v.(*child).pid, wrap(msg))
		return
	}
	r.viaShard(id, msg)
}

// sendInline is Send for a caller that only waits for the reply: a live
// child whose mailbox is idle handles msg on the calling goroutine
// (mailbox.postInline) instead of a dispatcher worker's.
func (r *Registry) sendInline(id string, msg any) {
	if v, ok := r.direct.Load(id); ok && v.(*child).count() {
		v.(*child).mb.postInline(wrap(msg))
		return
	}
	r.viaShard(id, msg)
}

// SendAfter delivers msg after every message this goroutine has already
// sent to id (it always takes the shard's path, which any earlier message
// has either taken too or bypassed into the mailbox already).
func (r *Registry) SendAfter(id string, msg any) { r.viaShard(id, msg) }

func (r *Registry) viaShard(id string, msg any) {
	s := r.shards[maphash.String(r.seed, id)%uint64(len(r.shards))]
	r.system.Root.Send(s, envelope{id: id, msg: msg})
}

// Live reports how many child actors are alive.
func (r *Registry) Live() int64 { return r.live.Load() }

// PassivateIdle asks every shard to check for idle children now (tests and
// benchmarks use it instead of waiting for the ticker).
func (r *Registry) PassivateIdle() {
	for _, s := range r.shards {
		r.system.Root.Send(s, tickMsg{})
	}
	if r.onTick != nil {
		r.onTick()
	}
}

// Handoff makes the actors whose ids moved to another node leave: every
// shard asks its children for which moved(id) holds to passivate with
// Passivate.Moved, now and at every tick until they are gone (a child
// still receiving messages, or refusing, is asked again). moved replaces
// the previous predicate; it is called on the shards' goroutines and must
// be safe for concurrent use. Messages that arrive for a departed id
// spawn a fresh actor as usual.
func (r *Registry) Handoff(moved func(id string) bool) {
	for _, s := range r.shards {
		r.system.Root.Send(s, handoffMsg{moved: moved})
	}
}

// Close stops the ticker and every actor, waiting for them to stop.
func (r *Registry) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	for _, s := range r.shards {
		_ = r.system.Root.StopFuture(s).Wait()
	}
}
