package txn

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
)

// The machine's table tests: every transition, with no store, no actor
// and no clock. Each case starts from a machine, feeds events and checks
// the effects, rendered as short lines.

func key(k string) Participant { return Participant{Namespace: "default", Key: k} }

func keys(ks ...string) []Participant {
	var out []Participant
	for _, k := range ks {
		out = append(out, key(k))
	}
	return out
}

var testPolicy = retryPolicy{Base: 2 * time.Second, Max: time.Minute}

// leader is the env of a leader in term 7 at t=1000.
var leader = env{now: 1000, term: 7, leading: true}

// follower is the env of a node that does not lead.
var follower = env{now: 1000, term: 7}

// fresh is the machine of an actor just started.
func fresh() machine { return newMachine("t1", testPolicy) }

// loaded is a machine holding rec (etag "e1").
func loaded(rec record) machine {
	m := fresh()
	rec.ID = "t1"
	m.rec, m.etag, m.exists, m.loaded = rec, "e1", true, true
	return m
}

func pending(ks ...string) record {
	return record{State: Pending, Participants: keys(ks...), Created: 900}
}

func decided(st State, applied bool, ks ...string) record {
	return record{State: st, Participants: keys(ks...), Term: 5, Created: 900, Decided: 950, Applied: applied}
}

// stored is the evLoaded of rec as the store holds it.
func stored(rec record) evLoaded {
	rec.ID = "t1"
	return evLoaded{rec: rec, etag: "e1", exists: true}
}

var (
	errDisk = errors.New("disk on fire")
	errDown = errors.New("connection refused")
)

func fanFail(ks ...string) evFannedOut {
	var errs []error
	for _, p := range keys(ks...) {
		errs = append(errs, &participantError{P: p, Err: errDown})
	}
	return evFannedOut{failed: keys(ks...), err: errors.Join(errs...)}
}

type tstep struct {
	in   env
	ev   any
	want string // the effects, rendered, separated by "; "
}

type tcase struct {
	name  string
	m     machine
	steps []tstep
	check func(t *testing.T, m machine, answers []effAnswer)
}

func TestMachine(t *testing.T) {
	cases := []tcase{
		// join
		{name: "join creates the record", m: fresh(), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b")}}, "load"},
			{leader, evLoaded{}, "track on; write pending [b] created=1000 if-absent"},
			{leader, evWritten{etag: "e2"}, "answer pending ok"},
		}},
		{name: "join enlists the origin of a new record", m: fresh(), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b"), origin: &Participant{Namespace: "default", Key: "a"}}}, "load"},
			{leader, evLoaded{}, "enlist a"},
			{leader, evEnlisted{ok: true}, "track on; write pending [b a] created=1000 if-absent"},
			{leader, evWritten{etag: "e2"}, "answer pending ok"},
		}},
		{name: "join without the origin when its lease is gone", m: fresh(), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b"), origin: &Participant{Namespace: "default", Key: "a"}}}, "load"},
			{leader, evLoaded{}, "enlist a"},
			{leader, evEnlisted{gone: true}, "track on; write pending [b] created=1000 if-absent"},
		}},
		{name: "join is refused when the origin cannot be enlisted", m: fresh(), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b"), origin: &Participant{Namespace: "default", Key: "a"}}}, "load"},
			{leader, evLoaded{}, "enlist a"},
			{leader, evEnlisted{err: errors.New("store unavailable")}, "answer - unavailable"},
		}},
		{name: "join lists an origin its own node enlisted", m: fresh(), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b"), origin: &Participant{Namespace: "default", Key: "a"}, enlisted: true}}, "load"},
			{leader, evLoaded{}, "track on; write pending [b a] created=1000 if-absent"},
			{leader, evWritten{etag: "e2"}, "answer pending ok"},
		}},
		{name: "join of an existing record uses the cache and keeps created", m: loaded(pending("a", "b")), steps: []tstep{
			{leader, evStart{&opJoin{p: key("c"), origin: &Participant{Namespace: "default", Key: "a"}}}, "track on; write pending [a b c] created=900 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "answer pending ok"},
		}},
		{name: "duplicate join lists the participant once", m: loaded(pending("a", "b")), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b")}}, "track on; write pending [a b] created=900 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "answer pending ok"},
		}},
		{name: "join of a decided txn is refused", m: loaded(decided(Commit, false, "a", "b")), steps: []tstep{
			{leader, evStart{&opJoin{p: key("c")}}, "answer commit decided"},
		}},
		{name: "join whose write fails answers unavailable and rereads next time", m: loaded(pending("a")), steps: []tstep{
			{leader, evStart{&opJoin{p: key("b")}}, "track on; write pending [a b] created=900 if-etag e1"},
			{leader, evWritten{err: fmt.Errorf("%w: write: %w", ErrUnavailable, errDisk)}, "answer - unavailable"},
			{leader, evStart{&opJoin{p: key("b")}}, "load"},
		}},

		// decide
		{name: "commit: prepare, record, fan out, mark applied", m: loaded(pending("a", "b")), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("b"))}}, "load"},
			{leader, stored(pending("a", "b")), "prepare [a b]"},
			{leader, evPrepared{}, "hit txn-before-decision; track on; write commit [a b] term=7 decided=1000 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "count decision commit; hit txn-after-decision; fanout commit term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write commit [a b] term=7 decided=1000 applied if-etag e2"},
			{leader, evWritten{etag: "e3"}, "track off; answer commit ok"},
		}},
		{name: "commit with a refused prepare rolls back and aborts", m: loaded(pending("a", "b")), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("a"))}}, "load"},
			{leader, stored(pending("a", "b")), "prepare [a b]"},
			{leader, evPrepared{err: fmt.Errorf("%w: b", ErrPrepareRefused)}, "hit txn-before-decision; track on; write rollback [a b] term=7 decided=1000 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "count decision rollback; hit txn-after-decision; fanout rollback term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write rollback [a b] term=7 decided=1000 applied if-etag e2"},
			{leader, evWritten{etag: "e3"}, "track off; answer rollback aborted"},
		}},
		{name: "rollback needs no prepare; extra participants and the deadline are recorded", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, extra: keys("x", "y"), expires: 2000}}, "load"},
			{leader, evLoaded{}, "hit txn-before-decision; track on; write rollback [x y] term=7 decided=1000 expires=2000 if-absent"},
		}},
		{name: "a node that does not lead cannot decide", m: fresh(), steps: []tstep{
			{follower, evStart{&opDecide{want: Commit}}, "load"},
			{follower, stored(pending("a", "b")), "answer - unavailable"},
		}},
		{name: "a decision of a stale term is refused", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, term: 6}}, "load"},
			{leader, stored(pending("a", "b")), "count stale; answer - stale"},
		}},
		{name: "a decision of the current term is taken", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, term: 7}}, "load"},
			{leader, stored(pending("a")), "hit txn-before-decision; track on; write rollback [a] term=7 decided=1000 if-etag e1"},
		}},
		{name: "a decision write that fails answers the error, nothing is applied", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback}}, "load"},
			{leader, stored(pending("a")), "hit txn-before-decision; track on; write rollback [a] term=7 decided=1000 if-etag e1"},
			{leader, evWritten{err: fmt.Errorf("%w: %w", ErrUnavailable, errDisk)}, "answer - unavailable"},
		}},
		{name: "a load that fails answers the error", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit}}, "load"},
			{leader, evLoaded{err: fmt.Errorf("%w: %w", ErrUnavailable, errDisk)}, "answer - unavailable"},
		}},

		// duplicates: a decided transaction answers with its decision
		{name: "duplicate commit of an unapplied decision fans out to all", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("b"))}}, "load"},
			{leader, stored(decided(Commit, false, "a", "b")), "fanout commit term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write commit [a b] term=5 decided=950 applied if-etag e1"},
			{leader, evWritten{etag: "e2"}, "track off; answer commit ok"},
		}},
		{name: "duplicate release of an applied decision reaches the requester only", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("b"))}}, "load"},
			{leader, stored(decided(Commit, true, "a", "b")), "fanout commit term=7 to [b]"},
			{leader, evFannedOut{}, "answer commit ok"},
		}},
		{name: "commit asked of a rolled back txn is aborted", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("a"))}}, "load"},
			{leader, stored(decided(Rollback, true, "a", "b")), "fanout rollback term=7 to [a]"},
			{leader, evFannedOut{}, "answer rollback aborted"},
		}},
		{name: "rollback asked of a committed txn answers commit", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, requester: ptr(key("a"))}}, "load"},
			{leader, stored(decided(Commit, true, "a", "b")), "fanout commit term=7 to [a]"},
			{leader, evFannedOut{}, "answer commit ok"},
		}},
		{name: "a follower re-sends a decided record in its recorded term", m: fresh(), steps: []tstep{
			{follower, evStart{&opDecide{want: Commit}}, "load"},
			{follower, stored(decided(Commit, false, "a")), "fanout commit term=5 to [a]"},
		}},
		{name: "expiry of a participant rolls back and enlists it", m: fresh(), steps: []tstep{
			{leader, evStart{&opExpired{p: key("c")}}, "load"},
			{leader, stored(pending("a", "b")), "hit txn-before-decision; track on; write rollback [a b c] term=7 decided=1000 if-etag e1"},
		}},
		// A lapsed, enlisted lease outside the decided set (soak: t/00/0,
		// which minted the txn, was never listed after its origin was lost
		// in a restart) is released by the rollback, whatever the decision.
		{name: "expiry of an unlisted participant after an applied rollback rolls it back", m: fresh(), steps: []tstep{
			{leader, evStart{&opExpired{p: key("a")}}, "load"},
			{leader, stored(decided(Rollback, true, "b")), "fanout rollback term=7 to [a]"},
			{leader, evFannedOut{}, "answer rollback ok"},
		}},
		{name: "expiry told by another node after an applied rollback rolls the unlisted participant back", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, extra: keys("a")}}, "load"},
			{leader, stored(decided(Rollback, true, "b")), "fanout rollback term=7 to [a]"},
			{leader, evFannedOut{}, "answer rollback ok"},
		}},
		{name: "expiry of an unlisted participant before the rollback is applied rolls back every one", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, extra: keys("a")}}, "load"},
			{leader, stored(decided(Rollback, false, "b")), "fanout rollback term=7 to [b a]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write rollback [b] term=5 decided=950 applied if-etag e1"},
		}},
		{name: "a commit is never applied to an unlisted participant: it rolls back", m: fresh(), steps: []tstep{
			{leader, evStart{&opExpired{p: key("a")}}, "load"},
			{leader, stored(decided(Commit, true, "b")), "fanout commit term=7 to [] rollback [a]"},
			{leader, evFannedOut{}, "answer commit ok"},
		}},
		{name: "a commit asked by an unlisted participant of a committed txn is aborted", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("a"))}}, "load"},
			{leader, stored(decided(Commit, true, "b")), "fanout commit term=7 to [] rollback [a]"},
			{leader, evFannedOut{}, "answer commit aborted"},
		}},
		{name: "an unapplied commit goes to its participants, the unlisted one rolls back", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback, extra: keys("a", "b")}}, "load"},
			{leader, stored(decided(Commit, false, "b", "c")), "fanout commit term=7 to [b c] rollback [a]"},
			{leader, fanFail("a"), "report fanout; retry 2s; answer commit fanout failed=[a]"},
		}},

		// fan-out failure and retry
		{name: "a failed fan-out is reported, retried and answered", m: loaded(pending("a", "b")), steps: []tstep{
			{leader, evStart{&opDecide{want: Rollback}}, "load"},
			{leader, stored(pending("a", "b")), "hit txn-before-decision; track on; write rollback [a b] term=7 decided=1000 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "count decision rollback; hit txn-after-decision; fanout rollback term=7 to [a b]"},
			{leader, fanFail("b"), "report fanout; retry 2s; answer rollback fanout failed=[b]"},
			// a second failure while the retry is armed schedules no other
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(decided(Rollback, false, "a", "b")), "count replay; fanout rollback term=7 to [a b]"},
			{leader, fanFail("b"), "report fanout; answer rollback fanout failed=[b]"},
			// the retry fires: it fails again, and backs off further
			{leader, evStart{&opRetry{}}, "load"},
			{leader, stored(decided(Rollback, false, "a", "b")), "fanout rollback term=7 to [a b]"},
			{leader, fanFail("b"), "report fanout; retry 8s; answer rollback fanout failed=[b]"},
			// and then succeeds
			{leader, evStart{&opRetry{}}, "load"},
			{leader, stored(decided(Rollback, false, "a", "b")), "fanout rollback term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write rollback [a b] term=5 decided=950 applied if-etag e1"},
			{leader, evWritten{etag: "e3"}, "track off; answer rollback ok"},
		}, check: func(t *testing.T, m machine, _ []effAnswer) {
			if m.failures != 0 || m.retryArmed {
				t.Fatalf("after success: failures %d armed %v", m.failures, m.retryArmed)
			}
		}},
		{name: "a failed fan-out of an aborted commit answers aborted too", m: fresh(), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit}}, "load"},
			{leader, stored(decided(Rollback, false, "a", "b")), "fanout rollback term=7 to [a b]"},
			{leader, fanFail("a", "b"), "report fanout; retry 2s; answer rollback aborted+fanout failed=[a b]"},
		}},
		{name: "a follower's failed fan-out schedules no retry (the leader replays)", m: fresh(), steps: []tstep{
			{follower, evStart{&opReplay{}}, "load"},
			{follower, stored(decided(Commit, false, "a")), "count replay; fanout commit term=5 to [a]"},
			{follower, fanFail("a"), "report fanout; answer commit fanout failed=[a]"},
		}},
		{name: "a retry of an applied record does nothing", m: fresh(), steps: []tstep{
			{leader, evStart{&opRetry{}}, "load"},
			{leader, stored(decided(Commit, true, "a")), "answer commit ok"},
		}},
		{name: "a retry of a pending record leaves it to the replay loop", m: fresh(), steps: []tstep{
			{leader, evStart{&opRetry{}}, "load"},
			{leader, stored(pending("a")), "answer pending ok"},
		}},
		{name: "a retry of a deleted record ends", m: fresh(), steps: []tstep{
			{leader, evStart{&opRetry{}}, "load"},
			{leader, evLoaded{}, "answer - notfound"},
		}},

		// applied-write failure
		{name: "a failed applied write is reported, retried and answered", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(decided(Commit, false, "a", "b")), "count replay; fanout commit term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write commit [a b] term=5 decided=950 applied if-etag e1"},
			{leader, evWritten{err: fmt.Errorf("%w: %w", ErrUnavailable, errDisk)}, "report applied-write; retry 2s; answer commit fanout failed=[] unavailable"},
			// the next operation rereads the record
			{leader, evStart{&opGet{}}, "load"},
		}},

		// replay after a restart: a fresh machine reads the record
		{name: "replay after restart re-applies a durable decision in the new term", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(decided(Commit, false, "a", "b")), "count replay; fanout commit term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write commit [a b] term=5 decided=950 applied if-etag e1"},
			{leader, evWritten{etag: "e2"}, "track off; answer commit ok"},
		}},
		{name: "replay of an applied decision applies it again (idempotent)", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(decided(Rollback, true, "a")), "count replay; fanout rollback term=7 to [a]"},
			{leader, evFannedOut{}, "answer rollback ok"},
		}},
		{name: "replay of a live pending txn leaves it pending", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(pending("a", "b")), "count replay; prepare [a b]"},
			{leader, evPrepared{}, "answer pending ok"},
		}},
		{name: "replay of a pending txn whose participant is gone rolls it back", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(pending("a", "b")), "count replay; prepare [a b]"},
			{leader, evPrepared{err: ErrPrepareRefused}, "hit txn-before-decision; track on; write rollback [a b] term=7 decided=1000 if-etag e1"},
			{leader, evWritten{etag: "e2"}, "count decision rollback; hit txn-after-decision; fanout rollback term=7 to [a b]"},
			{leader, evFannedOut{}, "hit txn-mid-apply; write rollback [a b] term=7 decided=1000 applied if-etag e2"},
			{leader, evWritten{etag: "e3"}, "track off; answer rollback ok"},
		}},
		// a participant in doubt: it voted yes to another island's TC,
		// which decides; this TC's record stays pending
		{name: "replay of a pending txn whose participant is in doubt leaves it pending", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, stored(pending("b")), "count replay; prepare [b]"},
			{leader, evPrepared{err: fmt.Errorf("participant b: %w", keyspace.ErrInDoubt)}, "answer pending ok"},
		}},
		{name: "a commit over a participant in doubt decides nothing", m: loaded(pending("b")), steps: []tstep{
			{leader, evStart{&opDecide{want: Commit, requester: ptr(key("b"))}}, "load"},
			{leader, stored(pending("b")), "prepare [b]"},
			{leader, evPrepared{err: fmt.Errorf("participant b: %w", keyspace.ErrInDoubt)}, "answer - indoubt"},
		}},
		{name: "replay of an unknown txn is not found", m: fresh(), steps: []tstep{
			{leader, evStart{&opReplay{}}, "load"},
			{leader, evLoaded{}, "answer - notfound"},
		}},

		// expiry of a pending txn (its deadline, from the decide API)
		{name: "replay past the deadline rolls back without asking", m: fresh(), steps: []tstep{
			{env{now: 2000, term: 7, leading: true}, evStart{&opReplay{}}, "load"},
			{env{now: 2000, term: 7, leading: true}, stored(record{State: Pending, Participants: keys("a"), Created: 900, Expires: 2000}),
				"count replay; hit txn-before-decision; track on; write rollback [a] term=7 decided=2000 expires=2000 if-etag e1"},
		}},
		{name: "replay before the deadline asks the participants", m: fresh(), steps: []tstep{
			{env{now: 1999, term: 7, leading: true}, evStart{&opReplay{}}, "load"},
			{env{now: 1999, term: 7, leading: true}, stored(record{State: Pending, Participants: keys("a"), Created: 900, Expires: 2000}), "count replay; prepare [a]"},
		}},
		{name: "an expired pending txn on a follower waits for the leader", m: fresh(), steps: []tstep{
			{env{now: 2000, term: 7}, evStart{&opReplay{}}, "load"},
			{env{now: 2000, term: 7}, stored(record{State: Pending, Participants: keys("a"), Expires: 2000}), "count replay; answer - unavailable"},
		}},

		// reads and the RM side
		{name: "get of an unknown txn", m: fresh(), steps: []tstep{
			{leader, evStart{&opGet{}}, "load"},
			{leader, evLoaded{}, "answer - notfound"},
		}},
		{name: "get from the cache", m: loaded(decided(Commit, true, "a")), steps: []tstep{
			{leader, evStart{&opGet{}}, "answer commit ok"},
		}},
		{name: "RM apply answers the local result", m: fresh(), steps: []tstep{
			{leader, evStart{&opApply{state: Commit, parts: keys("a")}}, "apply commit [a]"},
			{leader, evApplied{err: errDown}, "answer commit err"},
			{leader, evStart{&opApply{state: Rollback, parts: keys("a")}}, "apply rollback [a]"},
			{leader, evApplied{}, "answer rollback ok"},
		}},
		{name: "an unknown operation is refused", m: fresh(), steps: []tstep{
			{leader, evStart{struct{}{}}, "answer - err"},
		}},

		// events out of turn are ignored
		{name: "stray events change nothing", m: loaded(pending("a")), steps: []tstep{
			{leader, evWritten{etag: "zz"}, ""},
			{leader, evFannedOut{}, ""},
			{leader, evPrepared{}, ""},
			{leader, evEnlisted{ok: true}, ""},
			{leader, evApplied{}, ""},
			{leader, evLoaded{}, ""},
			{leader, evStart{&opDecide{want: Rollback}}, "load"},
			{leader, evStart{&opGet{}}, ""}, // busy: the actor queues it
			{leader, evFannedOut{}, ""},
		}, check: func(t *testing.T, m machine, _ []effAnswer) {
			if m.etag != "e1" || m.cur.phase != phaseLoading {
				t.Fatalf("stray events changed the machine: etag %q phase %d", m.etag, m.cur.phase)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			var answers []effAnswer
			for i, s := range tc.steps {
				var effs []effect
				m, effs = step(m, s.in, s.ev)
				if got := render(effs); got != s.want {
					t.Fatalf("step %d (%T):\n got  %s\n want %s", i, s.ev, got, s.want)
				}
				for _, e := range effs {
					if a, ok := e.(effAnswer); ok {
						answers = append(answers, a)
						if m.cur.op != nil {
							t.Fatalf("step %d: answered but still busy", i)
						}
					}
				}
			}
			if tc.check != nil {
				tc.check(t, m, answers)
			}
		})
	}
}

// step never changes the machine it was given (it returns the next one).
func TestStepLeavesItsInputAlone(t *testing.T) {
	m := loaded(pending("a", "b"))
	m2, _ := step(m, leader, evStart{&opDecide{want: Commit}})
	if m.cur.op != nil || !m.loaded || m2.loaded {
		t.Fatalf("input changed: %+v", m.cur)
	}
}

// The answer of a failed fan-out carries what a caller needs.
func TestFanoutErrorAnswer(t *testing.T) {
	m := loaded(decided(Commit, false, "a", "b"))
	m, _ = step(m, leader, evStart{&opReplay{}})
	m, _ = step(m, leader, stored(decided(Commit, false, "a", "b")))
	_, effs := step(m, leader, fanFail("b"))
	ans := effs[len(effs)-1].(effAnswer)
	var fe *FanoutError
	if !errors.As(ans.err, &fe) || !errors.Is(ans.err, ErrFanout) || !errors.Is(ans.err, errDown) {
		t.Fatalf("answer %v", ans.err)
	}
	if fe.State != Commit || fe.TxnID != "t1" {
		t.Fatalf("fanout error %+v", fe)
	}
	if !fe.reached(keys("a")) || fe.reached(keys("b")) || fe.reached(keys("a", "b")) || fe.reached(nil) {
		t.Fatal("reached: a has the decision, b does not, and nobody named is not reached")
	}
	st, err := outcome("", ans.err, keys("a"))
	if err != nil || st != Commit {
		t.Fatalf("outcome for a: %s %v", st, err)
	}
	if _, err := outcome("", ans.err, nil); !errors.Is(err, ErrFanout) {
		t.Fatalf("outcome for tooling: %v", err)
	}
	aborted := errors.Join(ErrAborted, ans.err)
	if _, err := outcome("", aborted, keys("a")); !errors.Is(err, ErrAborted) {
		t.Fatalf("an aborted commit must reach its caller: %v", err)
	}
}

func TestRetryPolicy(t *testing.T) {
	p := retryPolicy{Base: 2 * time.Second, Max: 10 * time.Second}
	for failures, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 4: 10 * time.Second, 50: 10 * time.Second} {
		if got := p.after(failures); got != want {
			t.Fatalf("after(%d) = %v, want %v", failures, got, want)
		}
	}
}

func TestFailedParticipants(t *testing.T) {
	err := errors.Join(&participantError{P: key("a"), Err: errDown}, &participantError{P: key("c"), Err: errDisk})
	if got := names(failedParticipants(err)); got != "[a c]" {
		t.Fatalf("failed %s", got)
	}
	if got := failedParticipants(errDown); got != nil {
		t.Fatalf("plain error names %v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func names(ps []Participant) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Key)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// render writes effects as one line each, joined by "; ".
func render(effs []effect) string {
	var out []string
	for _, e := range effs {
		out = append(out, render1(e))
	}
	return strings.Join(out, "; ")
}

func render1(e effect) string {
	switch e := e.(type) {
	case effLoad:
		return "load"
	case effEnlistOrigin:
		return "enlist " + e.p.Key
	case effPrepare:
		return "prepare " + names(e.parts)
	case effWrite:
		r := e.rec
		s := fmt.Sprintf("write %s %s", r.State, names(r.Participants))
		if r.Term != 0 {
			s += fmt.Sprintf(" term=%d", r.Term)
		}
		if r.State == Pending {
			s += fmt.Sprintf(" created=%d", r.Created)
		}
		if r.Decided != 0 {
			s += fmt.Sprintf(" decided=%d", r.Decided)
		}
		if r.Expires != 0 {
			s += fmt.Sprintf(" expires=%d", r.Expires)
		}
		if r.Applied {
			s += " applied"
		}
		if e.exists {
			return s + " if-etag " + e.etag
		}
		return s + " if-absent"
	case effFanout:
		s := fmt.Sprintf("fanout %s term=%d to %s", e.state, e.term, names(e.targets))
		if len(e.rollback) > 0 {
			s += " rollback " + names(e.rollback)
		}
		return s
	case effApplyLocal:
		return fmt.Sprintf("apply %s %s", e.state, names(e.parts))
	case effTrack:
		if e.on {
			return "track on"
		}
		return "track off"
	case effHit:
		return "hit " + e.name
	case effCount:
		return map[metric]string{metricDecision: "count decision " + string(e.state), metricStaleTerm: "count stale", metricReplay: "count replay"}[e.metric]
	case effReport:
		return map[failure]string{failFanout: "report fanout", failAppliedWrite: "report applied-write"}[e.what]
	case effRetry:
		return "retry " + e.after.String()
	case effAnswer:
		st := string(e.state)
		if st == "" {
			st = "-"
		}
		return "answer " + st + " " + classify(e.err)
	}
	return fmt.Sprintf("?%T", e)
}

// classify names the sentinels an answer's error matches.
func classify(err error) string {
	if err == nil {
		return "ok"
	}
	var out []string
	for _, c := range []struct {
		name string
		err  error
	}{{"aborted", ErrAborted}, {"fanout", ErrFanout}, {"decided", ErrDecided}, {"stale", ErrStaleTerm}, {"notfound", ErrNotFound}, {"indoubt", keyspace.ErrInDoubt}} {
		if errors.Is(err, c.err) {
			out = append(out, c.name)
		}
	}
	s := strings.Join(out, "+")
	var fe *FanoutError
	if errors.As(err, &fe) {
		s += " failed=" + names(fe.Failed)
	}
	if errors.Is(err, ErrUnavailable) {
		if s != "" {
			s += " "
		}
		s += "unavailable"
	}
	if s == "" {
		return "err"
	}
	return s
}
