package actors_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/actors"
)

// seqOp is sent by one sender with increasing numbers; panicOp panics the
// actor; nestedOp makes the actor call another actor and wait for it.
type seqOp struct {
	sender, n int
}
type panicOp struct{}
type nestedOp struct{ to string }

// seqActor answers Requests; it checks that each sender's numbers arrive
// in order and counts what it handled (a restart starts from zero).
type seqActor struct {
	caller *actors.Caller
	last   map[int]int
	total  int
}

func (a *seqActor) Receive(ctx actor.Context) {
	r, ok := ctx.Message().(*actors.Request)
	if !ok {
		if p, ok := ctx.Message().(*actors.Passivate); ok {
			p.Reply(ctx, true)
		}
		return
	}
	switch op := r.Op.(type) {
	case seqOp:
		if a.last == nil {
			a.last = map[int]int{}
		}
		if prev := a.last[op.sender]; op.n != prev+1 {
			r.Answer(nil, fmt.Errorf("sender %d: got %d after %d", op.sender, op.n, prev), nil)
			return
		}
		a.last[op.sender] = op.n
		a.total++
		r.Answer(a.total, nil, nil)
	case panicOp:
		panic("boom")
	case nestedOp:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := a.caller.Call(ctx, op.to, seqOp{sender: -1, n: a.lastOf(-1) + 1}, nil)
		if err == nil {
			a.last[-1]++
		}
		r.Answer(v, err, nil)
	}
}

func (a *seqActor) lastOf(sender int) int {
	if a.last == nil {
		a.last = map[int]int{}
	}
	return a.last[sender]
}

func newSeqCaller(t *testing.T) *actors.Caller {
	t.Helper()
	c := &actors.Caller{Unavailable: errUnavailable, Abandon: func(string, *actors.Request) {}, Inline: true}
	c.Registry = actors.NewRegistry(actors.NewSystem(), func(string) actor.Actor {
		return &seqActor{caller: c}
	}, actors.Config{IdleAfter: -1})
	t.Cleanup(c.Registry.Close)
	return c
}

// Calls to live actors run on the callers' goroutines when the mailbox is
// idle and queue behind the running caller otherwise: each actor still
// sees one message at a time, every sender's messages in order, and every
// call answered, with many callers contending for few actors.
func TestCallManyCallersKeepOrder(t *testing.T) {
	c := newSeqCaller(t)
	const senders, calls, ids = 32, 300, 3
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("k%d", s%ids)
			for n := 1; n <= calls; n++ {
				if _, err := c.Call(ctx, id, seqOp{sender: s, n: n}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for i := range ids {
		// sender -1 is unused here: its first number is 1.
		v, err := c.Call(ctx, fmt.Sprintf("k%d", i), seqOp{sender: -1, n: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		total += v.(int) - 1
	}
	if total != senders*calls {
		t.Fatalf("handled %d calls, want %d", total, senders*calls)
	}
}

// A call whose message panics the actor on the caller's goroutine goes
// unanswered (the caller's context bounds it); the supervisor restarts
// the actor and the next call is answered by the fresh instance.
func TestCallPanicRestartsActor(t *testing.T) {
	c := newSeqCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := 1; n <= 3; n++ {
		if _, err := c.Call(ctx, "p", seqOp{sender: 1, n: n}, nil); err != nil {
			t.Fatal(err)
		}
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := c.Call(short, "p", panicOp{}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("panicking call: %v, want the caller's deadline", err)
	}
	v, err := c.Call(ctx, "p", seqOp{sender: 1, n: 1}, nil)
	if err != nil || v != 1 {
		t.Fatalf("after the restart: %v %v, want a fresh instance's 1", v, err)
	}
}

// An actor that calls another actor and waits for it, from inside its own
// Receive, gets the answer (the callee may run nested on the same
// goroutine).
func TestCallFromInsideActor(t *testing.T) {
	c := newSeqCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, "b", seqOp{sender: 9, n: 1}, nil); err != nil { // b is live
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		v, err := c.Call(ctx, "a", nestedOp{to: "b"}, nil)
		if err != nil || v != i+1 {
			t.Fatalf("nested call %d: %v %v, want %d", i, v, err, i+1)
		}
	}
}
