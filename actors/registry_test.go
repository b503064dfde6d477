package actors_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
)

// counter is a test actor: it counts messages and answers on reply chans.
type counter struct {
	id     string
	n      int
	starts *atomic.Int64
	idleOK bool
}

type inc struct{ reply chan int }
type boom struct{}

func (c *counter) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.starts.Add(1)
	case inc:
		c.n++
		m.reply <- c.n
	case boom:
		panic("boom")
	case *actors.Passivate:
		m.Reply(ctx, c.idleOK)
	}
}

func newRegistry(t *testing.T, cfg actors.Config, idleOK bool) (*actors.Registry, *atomic.Int64) {
	t.Helper()
	starts := &atomic.Int64{}
	sys := actors.NewSystem()
	r := actors.NewRegistry(sys, func(id string) actor.Actor {
		return &counter{id: id, starts: starts, idleOK: idleOK}
	}, cfg)
	t.Cleanup(r.Close)
	return r, starts
}

func ask(t *testing.T, r *actors.Registry, id string) int {
	t.Helper()
	ch := make(chan int, 1)
	r.Send(id, inc{reply: ch})
	select {
	case n := <-ch:
		return n
	case <-time.After(5 * time.Second):
		t.Fatalf("no reply from %s", id)
		return 0
	}
}

func TestSpawnOrGetAndOrder(t *testing.T) {
	r, starts := newRegistry(t, actors.Config{IdleAfter: -1}, true)
	for i := 1; i <= 100; i++ {
		if n := ask(t, r, "a"); n != i {
			t.Fatalf("message %d answered %d", i, n)
		}
	}
	ask(t, r, "b")
	if got := r.Live(); got != 2 {
		t.Fatalf("live = %d, want 2", got)
	}
	if starts.Load() != 2 {
		t.Fatalf("starts = %d, want 2", starts.Load())
	}
}

func TestPassivationFollowsHotSet(t *testing.T) {
	r, _ := newRegistry(t, actors.Config{IdleAfter: time.Millisecond, Tick: time.Hour}, true)
	for i := 0; i < 1000; i++ {
		ask(t, r, fmt.Sprint("k", i))
	}
	if r.Live() != 1000 {
		t.Fatalf("live = %d", r.Live())
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.Live() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // let lastUse age past IdleAfter
		r.PassivateIdle()
	}
	if r.Live() != 0 {
		t.Fatalf("live = %d after passivation", r.Live())
	}
	// A passivated id comes back fresh (state reloads from storage in real actors).
	if n := ask(t, r, "k1"); n != 1 {
		t.Fatalf("respawned actor answered %d", n)
	}
}

// Passivated actors are garbage: nothing in the registry or in protoactor
// keeps a stopped actor (and the state it holds) reachable.
func TestPassivatedActorsAreCollected(t *testing.T) {
	var refs []weak.Pointer[counter]
	sys := actors.NewSystem()
	r := actors.NewRegistry(sys, func(id string) actor.Actor {
		c := &counter{id: id, starts: &atomic.Int64{}, idleOK: true}
		refs = append(refs, weak.Make(c)) // producers run on the shard, one at a time per shard
		return c
	}, actors.Config{IdleAfter: time.Millisecond, Tick: time.Hour, Shards: 1})
	t.Cleanup(r.Close)
	for i := 0; i < 200; i++ {
		ask(t, r, fmt.Sprint("k", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.Live() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		r.PassivateIdle()
	}
	if r.Live() != 0 {
		t.Fatalf("live = %d after passivation", r.Live())
	}
	alive := len(refs)
	for alive > 0 && time.Now().Before(deadline) {
		runtime.GC()
		alive = 0
		for _, w := range refs {
			if w.Value() != nil {
				alive++
			}
		}
		if alive > 0 {
			time.Sleep(10 * time.Millisecond) // terminations reach the shard asynchronously
		}
	}
	if alive > 0 {
		t.Fatalf("%d of %d passivated actors are still reachable", alive, len(refs))
	}
}

func TestActorRefusingPassivationStays(t *testing.T) {
	r, _ := newRegistry(t, actors.Config{IdleAfter: time.Millisecond, Tick: time.Hour}, false)
	ask(t, r, "x")
	time.Sleep(5 * time.Millisecond)
	r.PassivateIdle()
	if n := ask(t, r, "x"); n != 2 {
		t.Fatalf("actor lost state: %d", n)
	}
}

// Messages racing with passivation are never lost.
func TestNoMessageLostDuringPassivation(t *testing.T) {
	r, _ := newRegistry(t, actors.Config{IdleAfter: time.Nanosecond, Tick: 50 * time.Microsecond}, true)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ask(t, r, fmt.Sprint("k", (w*7+i)%5))
			}
		}(w)
	}
	wg.Wait()
}

func TestPanicRestartsActor(t *testing.T) {
	r, starts := newRegistry(t, actors.Config{IdleAfter: -1}, true)
	ask(t, r, "p")
	ask(t, r, "p")
	r.Send("p", boom{})
	// The restarted instance starts from scratch (real actors reload their record).
	if n := ask(t, r, "p"); n != 1 {
		t.Fatalf("after restart answered %d, want 1", n)
	}
	if starts.Load() != 2 {
		t.Fatalf("starts = %d, want 2", starts.Load())
	}
	if n := ask(t, r, "q"); n != 1 {
		t.Fatalf("other actor affected: %d", n)
	}
}

func TestTooManyRestartsStopsAndRespawns(t *testing.T) {
	r, _ := newRegistry(t, actors.Config{IdleAfter: -1, MaxRestarts: 2, RestartWindow: time.Minute}, true)
	ask(t, r, "p")
	for i := 0; i < 5; i++ {
		r.Send("p", boom{})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ch := make(chan int, 1)
		r.Send("p", inc{reply: ch})
		select {
		case n := <-ch:
			if n >= 1 {
				return
			}
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("stopped actor never respawned")
		}
	}
}

// refuser refuses passivation while its flag says so.
type refuser struct{ allow *atomic.Bool }

func (r *refuser) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case inc:
		m.reply <- 1
	case *actors.Passivate:
		m.Reply(ctx, r.allow.Load())
	}
}

// A child that refused passivation (it had waiters then) is asked again
// later even if no message reached it since.
func TestRefusedPassivationIsAskedAgain(t *testing.T) {
	clk := clock.NewFake(time.Now())
	allow := &atomic.Bool{}
	r := actors.NewRegistry(actors.NewSystem(), func(string) actor.Actor { return &refuser{allow: allow} },
		actors.Config{IdleAfter: time.Second, Tick: time.Hour, Clock: clk})
	t.Cleanup(r.Close)
	ask(t, r, "x")
	for i := 0; i < 3; i++ { // notice the use, then ask (refused)
		clk.Advance(2 * time.Second)
		r.PassivateIdle()
	}
	time.Sleep(20 * time.Millisecond)
	if r.Live() != 1 {
		t.Fatalf("refusing child passivated: live %d", r.Live())
	}
	allow.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for r.Live() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("child that refused once was never asked again")
		}
		clk.Advance(2 * time.Second)
		r.PassivateIdle()
		time.Sleep(5 * time.Millisecond)
	}
}
