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

// worker runs fn, then whatever it is handed next; it exits once it has
// had no work for a whole idle period (between idle and twice idle after
// its last run). The timer is not reset per run, which would cost two
// timer operations on every message.
func (d *poolDispatcher) worker(fn func()) {
	t := time.NewTimer(d.idle)
	defer t.Stop()
	busy := false
	for {
		fn()
		busy = true
		select {
		case fn = <-d.work:
		case <-t.C:
			if !busy {
				return
			}
			busy = false
			t.Reset(d.idle)
			select { // one more idle period: work or exit
			case fn = <-d.work:
			case <-t.C:
				return
			}
		}
	}
}
