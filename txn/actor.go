package txn

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/failpoint"
)

// request is a call into a transaction actor (actors.Request: one reply,
// awaited with the Service's actors.Caller).
type request = actors.Request

// Operations on a transaction.
type (
	opJoin struct {
		p      Participant
		origin *Participant
		// enlisted: origin was enlisted by the node that holds it (it
		// answered another node's /v1/cluster/txn/origin); the machine
		// only lists it.
		enlisted bool
	}
	opDecide struct {
		want      State
		requester *Participant
		extra     []Participant
		term      uint64
		expires   int64
	}
	opExpired struct{ p Participant }
	opReplay  struct{}
	// opRetry is the machine's own retry of an unfinished fan-out.
	opRetry struct{}
	opGet   struct{}
	// opApply applies a decision taken elsewhere (the RM endpoints).
	opApply struct {
		state State
		parts []Participant
		by    string // who decided (see Service.decider)
	}
	// detached is an operation nobody waits for (an expiry, a replay at
	// start, a retry): the actor logs its failure instead of answering it
	// to no one.
	detached struct{ op any }
)

// result brings an effect's outcome (an event) back to the actor. serial
// names the operation it belongs to; results of an operation that a
// restart abandoned are dropped. A panic in the effect comes back as
// panicked and is raised in the actor, which fails its requests and is
// restarted like any panicking actor.
type result struct {
	serial   uint64
	ev       any
	panicked any
}

// txnActor is the thin actor around one transaction's machine: it starts
// one operation at a time, performs the machine's effects (I/O off the
// actor, in a goroutine whose result comes back as a message, so the
// actor never blocks on storage, on key actors or on other nodes) and
// feeds the results back.
type txnActor struct {
	svc    *Service
	id     string
	self   *actor.PID
	sys    *actor.ActorSystem
	m      machine
	serial uint64   // the operation in flight (0: none)
	cur    *request // its request
	quiet  bool     // cur is detached: nobody waits for the answer
	queue  []*request
	// riders are replays that arrived while an equal replay was queued:
	// they are answered with it instead of running again (the replay
	// loop, the sweeper and recovery each ask every few seconds, and a
	// caller that gave up leaves its request queued; uncoalesced, a
	// transaction whose fan-out takes long queued them faster than it
	// ran them). INVARIANT: at most one replay per actor is queued.
	riders map[*request][]*request
}

func (a *txnActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.sys = ctx.Self(), ctx.ActorSystem()
		a.m = newMachine(a.id, a.svc.retryPolicy())
	case *actors.Passivate:
		msg.Reply(ctx, a.cur == nil && len(a.queue) == 0)
	case *request:
		a.guard(func() {
			if a.cur != nil {
				a.enqueue(msg)
				return
			}
			a.begin(msg)
		})
	case *result:
		if msg.serial != a.serial || a.cur == nil {
			return
		}
		a.guard(func() {
			if msg.panicked != nil {
				panic(msg.panicked)
			}
			a.feed(msg.ev)
		})
	}
}

// guard runs fn, turning a panic into an error answer for the request in
// flight and every queued one before letting the supervisor restart the
// actor (its fresh instance rereads the record).
func (a *txnActor) guard(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("%w: internal error: %v", ErrUnavailable, p)
			a.svc.log.Error().Str("txn_id", a.id).Interface("panic", p).Bytes("stack", debug.Stack()).Msg("transaction actor panicked; restarting it")
			if a.cur != nil {
				a.cur.Answer(nil, err, nil)
			}
			for _, r := range a.queue {
				r.Answer(nil, err, nil)
			}
			for _, rs := range a.riders { // the current request's and the queued ones'
				for _, r := range rs {
					r.Answer(nil, err, nil)
				}
			}
			a.cur, a.queue, a.riders, a.serial = nil, nil, nil, 0
			panic(p)
		}
	}()
	fn()
}

// enqueue queues req behind the operation in flight, or lets it ride on
// a replay already queued.
func (a *txnActor) enqueue(req *request) {
	if isReplay(req.Op) {
		for _, q := range a.queue {
			if isReplay(q.Op) {
				if a.riders == nil {
					a.riders = map[*request][]*request{}
				}
				a.riders[q] = append(a.riders[q], req)
				replaysCoalesced.Inc()
				return
			}
		}
	}
	a.queue = append(a.queue, req)
}

// isReplay reports a replay, awaited or detached. (A retry is not one: it
// rearms the machine's retry timer.)
func isReplay(op any) bool {
	if d, ok := op.(*detached); ok {
		op = d.op
	}
	_, ok := op.(*opReplay)
	return ok
}

func (a *txnActor) begin(req *request) {
	a.cur, a.quiet, a.serial = req, false, a.svc.serial.Add(1)
	op := req.Op
	if d, ok := op.(*detached); ok {
		a.quiet, op = true, d.op
	}
	a.feed(evStart{op: op})
}

// feed steps the machine with ev and performs the effects.
func (a *txnActor) feed(ev any) {
	var effs []effect
	a.m, effs = step(a.m, a.svc.env(), ev)
	answered := false
	for _, e := range effs {
		if ans, ok := e.(effAnswer); ok {
			a.answer(ans)
			answered = true
			continue
		}
		a.perform(e)
	}
	if answered && a.cur == nil && len(a.queue) > 0 {
		next := a.queue[0]
		a.queue = a.queue[1:]
		a.begin(next)
	}
}

func (a *txnActor) answer(ans effAnswer) {
	req := a.cur
	a.cur, a.serial = nil, 0
	if a.quiet && ans.err != nil && !errors.Is(ans.err, ErrFanout) && !errors.Is(ans.err, ErrNotFound) {
		// A fan-out failure was reported by its effect; others are
		// logged here, as no caller will see them.
		a.svc.log.Warn().Err(ans.err).Str("txn_id", a.id).Msgf("transaction operation %T failed", req.Op.(*detached).op)
	}
	reqs := append([]*request{req}, a.riders[req]...)
	delete(a.riders, req)
	for _, r := range reqs {
		if ans.err != nil {
			r.Answer(nil, ans.err, nil)
		} else {
			r.Answer(ans.state, nil, nil)
		}
	}
}

// perform runs one effect other than the answer.
func (a *txnActor) perform(e effect) {
	s := a.svc
	switch e := e.(type) {
	case effTrack:
		if e.on {
			s.dir.Store(a.id, struct{}{})
		} else {
			s.dir.Delete(a.id)
		}
	case effHit:
		failpoint.Hit(e.name)
	case effCount:
		s.count(e)
	case effReport:
		s.report(a.id, e)
	case effRetry:
		s.scheduleRetry(a.id, e.after)
	default:
		a.async(e)
	}
}

// async performs an I/O effect off the actor; its event comes back as a
// result.
func (a *txnActor) async(e effect) {
	self, sys, serial, s, id := a.self, a.sys, a.serial, a.svc, a.id
	go func() {
		res := &result{serial: serial}
		defer func() {
			if p := recover(); p != nil {
				res.ev, res.panicked = nil, p
			}
			sys.Root.Send(self, res)
		}()
		res.ev = s.perform(id, e)
	}()
}
