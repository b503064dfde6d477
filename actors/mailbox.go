package actors

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// inlineBudget bounds how many user messages a caller's goroutine handles
// for a mailbox it found idle (postInline) before it hands the rest to the
// dispatcher's workers: its own message and the few posted just ahead of
// it, never an unbounded stream of other callers' work.
const inlineBudget = 8

// mailbox is the children's mailbox: protoactor's default mailbox (system
// messages first, Suspend/Resume, a panic escalated to the supervisor),
// plus postInline. A request whose caller only waits for the reply costs
// two goroutine hand-offs through the dispatcher (caller → worker →
// caller); postInline instead runs an idle mailbox on the caller's own
// goroutine, so the actor handles the request where it arrived. The actor
// still handles its messages one at a time, in order: whoever wins the
// idle → running transition runs the mailbox, as in protoactor.
//
// It handles no MessageBatch and has no middlewares: the registry's
// children receive neither.
type mailbox struct {
	mu     sync.Mutex
	user   fifo // guarded by mu
	system fifo // guarded by mu

	status    atomic.Int32 // idle or running
	userN     atomic.Int32
	sysN      atomic.Int32
	suspended atomic.Bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

var _ actor.Mailbox = (*mailbox)(nil)

// PostUserMessage queues msg and schedules the mailbox on the dispatcher.
func (m *mailbox) PostUserMessage(msg any) {
	m.push(&m.user, msg)
	m.userN.Add(1)
	m.schedule()
}

// PostSystemMessage queues msg ahead of user messages and schedules the
// mailbox on the dispatcher.
func (m *mailbox) PostSystemMessage(msg any) {
	m.push(&m.system, msg)
	m.sysN.Add(1)
	m.schedule()
}

// postInline queues msg and, if the mailbox is idle, runs it on the
// calling goroutine until msg is handled (at most inlineBudget user
// messages); what is left goes to the dispatcher. The caller must not hold
// anything the actor's handlers may wait for.
func (m *mailbox) postInline(msg any) {
	m.push(&m.user, msg)
	m.userN.Add(1)
	if !m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
		return
	}
	m.run(msg, inlineBudget)
	m.status.Store(mailboxIdle)
	if m.pending() {
		m.schedule()
	}
}

// RegisterHandlers is called by protoactor when the actor is spawned.
func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

// Start is called by protoactor when the actor is spawned.
func (m *mailbox) Start() {}

// UserMessageCount is the number of queued user messages.
func (m *mailbox) UserMessageCount() int { return int(m.userN.Load()) }

func (m *mailbox) push(q *fifo, msg any) {
	m.mu.Lock()
	q.push(msg)
	m.mu.Unlock()
}

func (m *mailbox) pop(q *fifo) any {
	m.mu.Lock()
	msg := q.pop()
	m.mu.Unlock()
	return msg
}

func (m *mailbox) pending() bool {
	return m.sysN.Load() > 0 || (!m.suspended.Load() && m.userN.Load() > 0)
}

func (m *mailbox) schedule() {
	if m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
		m.dispatcher.Schedule(m.processMessages)
	}
}

// processMessages is the dispatcher's run of the mailbox: until it is
// empty or suspended, then idle unless a message came in meanwhile.
func (m *mailbox) processMessages() {
	for {
		m.run(nil, -1)
		m.status.Store(mailboxIdle)
		if !m.pending() || !m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
			return
		}
	}
}

// run handles system messages, then user messages, until the mailbox is
// empty or suspended; with budget >= 0 it also stops once it handled until
// (compared by identity) or budget user messages. A panic is escalated to
// the supervisor, which suspends the mailbox and restarts the actor.
func (m *mailbox) run(until any, budget int) {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	throughput := m.dispatcher.Throughput()
	for i := 0; ; i++ {
		if budget < 0 && i > throughput {
			i = 0
			runtime.Gosched()
		}
		if msg = m.pop(&m.system); msg != nil {
			m.sysN.Add(-1)
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		if m.suspended.Load() {
			return
		}
		if budget == 0 {
			return
		}
		if msg = m.pop(&m.user); msg == nil {
			return
		}
		m.userN.Add(-1)
		mine := msg == until
		m.invoker.InvokeUserMessage(msg)
		if mine {
			return
		}
		if budget > 0 {
			budget--
		}
	}
}

// fifo is an unbounded queue over a slice that is reused once drained.
type fifo struct {
	items []any
	head  int
}

func (q *fifo) push(msg any) {
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Full with handled slots in front: reuse them instead of growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, msg)
}

func (q *fifo) pop() any {
	if q.head == len(q.items) {
		return nil
	}
	msg := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return msg
}
