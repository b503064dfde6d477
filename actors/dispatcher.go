package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// poolDispatcher runs mailboxes on long-lived worker goroutines instead of
// a fresh goroutine per run (protoactor's default). A fresh goroutine starts
// with a tiny stack and regrows it through the actor's deep call chain on
// every run; a worker keeps its grown stack. The pool grows without bound
// (an actor blocked on storage never starves another) and idle workers exit.
type poolDispatcher struct {
	work       chan func()
	throughput int
	idle       time.Duration
}

var _ actor.Dispatcher = (*poolDispatcher)(nil)

func newPoolDispatcher(throughput int, idle time.Duration) *poolDispatcher {
	return &poolDispatcher{work: make(chan func()), throughput: throughput, idle: idle}
}

// Schedule hands fn to an idle worker, or starts one.
func (d *poolDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

// Throughput is how many messages a mailbox processes per run.
func (d *poolDispatcher) Throughput() int { return d.throughput }

func (d *poolDispatcher) worker(fn func()) {
	t := time.NewTimer(d.idle)
	defer t.Stop()
	for {
		fn()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(d.idle)
		select {
		case fn = <-d.work:
		case <-t.C:
			return
		}
	}
}
