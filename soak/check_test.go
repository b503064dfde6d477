package soak

import (
	"strings"
	"testing"
	"time"
)

// ms is a history timestamp.
func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func v(n int64, w string) Val { return Val{N: n, W: w} }

func cas(id int64, key string, call, ret int, o Outcome, old, nw Val) Op {
	return Op{ID: id, Kind: KindCycle, Key: key, Call: ms(call), Return: ms(ret), Outcome: o, Old: []Val{old}, New: []Val{nw}}
}

func read(id int64, key string, call, ret int, got Val) Op {
	return Op{ID: id, Kind: KindRead, Key: key, Call: ms(call), Return: ms(ret), Outcome: OK, Read: &got}
}

func grant(id int64, key string, call, ret int, token int64, ttl, end int) Op {
	return Op{ID: id, Kind: KindAcquire, Key: key, Call: ms(call), Return: ms(ret), Outcome: OK, Token: token,
		TTL: ms(ttl), EndCall: ms(end)}
}

var lay = Layout{Counters: []string{"k"}}

func TestLinearizability(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		want Status
	}{
		{"sequential increments and reads", []Op{
			cas(1, "k", 0, 10, OK, v(0, ""), v(1, "a")),
			read(2, "k", 11, 12, v(1, "a")),
			cas(3, "k", 13, 20, OK, v(1, "a"), v(2, "b")),
			read(4, "k", 21, 22, v(2, "b")),
		}, Passed},
		{"reads concurrent with a commit cannot go back", []Op{
			cas(1, "k", 0, 10, OK, v(0, ""), v(1, "a")),
			read(2, "k", 1, 2, v(1, "a")),
			read(3, "k", 3, 4, v(0, "")),
		}, Failed},
		{"unknown commit applies later", []Op{
			cas(1, "k", 0, 10, Unknown, v(0, ""), v(1, "a")),
			read(2, "k", 11, 12, v(0, "")),
			read(3, "k", 50, 51, v(1, "a")),
		}, Passed},
		{"unknown commit never applied", []Op{
			cas(1, "k", 0, 10, Unknown, v(0, ""), v(1, "a")),
			read(2, "k", 50, 51, v(0, "")),
		}, Passed},
		{"two acknowledged commits from the same value", []Op{
			cas(1, "k", 0, 10, OK, v(0, ""), v(1, "a")),
			cas(2, "k", 1, 11, OK, v(0, ""), v(1, "b")),
		}, Failed},
		{"a refused commit is invisible", []Op{
			cas(1, "k", 0, 10, Fail, v(0, ""), v(1, "a")),
			read(2, "k", 11, 12, v(1, "a")),
		}, Failed},
		{"a lost acknowledged commit", []Op{
			cas(1, "k", 0, 10, OK, v(0, ""), v(1, "a")),
			read(2, "k", 11, 12, v(0, "")),
		}, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkLinearizable("p", tc.ops, lay, CheckOptions{LinearizabilityTimeout: 5 * time.Second})
			if got.Status != tc.want {
				t.Fatalf("status %s, want %s: %+v", got.Status, tc.want, got)
			}
			if got.Status == Failed && len(got.Failures[0].History) == 0 {
				t.Fatal("a failure without its failing window")
			}
		})
	}
}

func TestFencing(t *testing.T) {
	ok := checkFencing("p", []Op{grant(1, "k", 0, 1, 1, 0, 0), grant(2, "k", 2, 3, 2, 0, 0), grant(3, "k", 2, 5, 3, 0, 0)})
	if ok.Status != Passed {
		t.Fatalf("increasing tokens: %+v", ok)
	}
	dup := checkFencing("p", []Op{grant(1, "k", 0, 1, 1, 0, 0), grant(2, "k", 2, 3, 1, 0, 0)})
	if dup.Status != Failed || !strings.Contains(dup.Failures[0].Message, "granted twice") {
		t.Fatalf("duplicate token: %+v", dup)
	}
	back := checkFencing("p", []Op{grant(1, "k", 0, 1, 5, 0, 0), grant(2, "k", 2, 3, 4, 0, 0)})
	if back.Status != Failed {
		t.Fatalf("decreasing token after the earlier grant returned: %+v", back)
	}
	concurrent := checkFencing("p", []Op{grant(1, "k", 0, 5, 5, 0, 0), grant(2, "k", 2, 3, 4, 0, 0)})
	if concurrent.Status != Passed {
		t.Fatalf("concurrent grants may come in any order: %+v", concurrent)
	}
}

func TestLeaseOverlap(t *testing.T) {
	released := checkLeaseOverlap("p", []Op{grant(1, "k", 0, 1, 1, 4000, 10), grant(2, "k", 5, 12, 2, 4000, 20)}, ms(50))
	if released.Status != Passed {
		t.Fatalf("grant after the release was sent: %+v", released)
	}
	expired := checkLeaseOverlap("p", []Op{grant(1, "k", 0, 1, 1, 1000, 0), grant(2, "k", 5, 1100, 2, 4000, 0)}, ms(50))
	if expired.Status != Passed {
		t.Fatalf("grant after the TTL: %+v", expired)
	}
	overlap := checkLeaseOverlap("p", []Op{grant(1, "k", 0, 1, 1, 4000, 0), grant(2, "k", 5, 100, 2, 4000, 0)}, ms(50))
	if overlap.Status != Failed {
		t.Fatalf("grant while the previous lease was live: %+v", overlap)
	}
}

func TestIncrements(t *testing.T) {
	ops := []Op{
		cas(1, "k", 0, 10, OK, v(0, ""), v(1, "a")),
		cas(2, "k", 11, 20, OK, v(1, "a"), v(2, "b")),
		cas(3, "k", 21, 30, Unknown, v(2, "b"), v(3, "c")),
	}
	for _, tc := range []struct {
		final Val
		want  Status
	}{{v(2, "b"), Passed}, {v(3, "c"), Passed}, {v(1, "a"), Failed}, {v(4, "d"), Failed}, {v(2, "x"), Failed}} {
		got := checkIncrements("p", ops, lay, Final{Values: map[string]Val{"k": tc.final}})
		if got.Status != tc.want {
			t.Errorf("final %v: %s, want %s (%s)", tc.final, got.Status, tc.want, got.Summary)
		}
	}
}

func TestTxnAtomic(t *testing.T) {
	l := Layout{Groups: [][]string{{"a", "b"}}}
	txn := Op{ID: 1, Kind: KindTxn, Keys: []string{"a", "b"}, Outcome: OK, Reads: []Val{v(1, "t"), v(1, "t")}}
	ok := checkTxnAtomic("p", []Op{txn}, l, Final{Values: map[string]Val{"a": v(2, "u"), "b": v(2, "u")}})
	if ok.Status != Passed {
		t.Fatalf("consistent group: %+v", ok)
	}
	torn := txn
	torn.Reads = []Val{v(1, "t"), v(0, "")}
	if got := checkTxnAtomic("p", []Op{torn}, l, Final{}); got.Status != Failed {
		t.Fatalf("a snapshot that differs across the group: %+v", got)
	}
	if got := checkTxnAtomic("p", nil, l, Final{Values: map[string]Val{"a": v(2, "u"), "b": v(1, "t")}}); got.Status != Failed {
		t.Fatalf("final values that differ across the group: %+v", got)
	}
}

func TestDirtyReads(t *testing.T) {
	rb := Op{ID: 1, Kind: KindRollback, Key: "k", Outcome: OK, Old: []Val{v(0, "")}, New: []Val{v(1, "r")}}
	got := checkDirtyReads("p", []Op{rb, read(2, "k", 5, 6, v(1, "r"))})
	if got.Status != Failed || !strings.Contains(got.Failures[0].Message, "rollback") {
		t.Fatalf("a rolled-back value was read: %+v", got)
	}
	q := Op{ID: 3, Kind: KindQuery, Outcome: OK, Keys: []string{"k"}, Reads: []Val{v(7, "nobody")}}
	if got := checkDirtyReads("p", []Op{q}); got.Status != Failed {
		t.Fatalf("a query returned a value nobody wrote: %+v", got)
	}
}

func TestQueue(t *testing.T) {
	enq := Op{ID: 1, Kind: KindEnqueue, Outcome: OK, Msg: "m1", MsgID: "id1", Call: ms(0), Return: ms(1)}
	deq := Op{ID: 2, Kind: KindDequeue, Outcome: OK, Msg: "m1", MsgID: "id1", Call: ms(2), Return: ms(3)}
	ack := Op{ID: 3, Kind: KindAck, Outcome: OK, Msg: "m1", MsgID: "id1", Call: ms(4), Return: ms(5)}
	again := Op{ID: 4, Kind: KindDequeue, Outcome: OK, Msg: "m1", MsgID: "id1", Call: ms(6), Return: ms(7)}
	drained := Final{QueueChecked: true, Drained: true}
	if got := checkQueue("p", []Op{enq, deq, ack}, drained); got.Status != Passed {
		t.Fatalf("delivered and acked: %+v", got)
	}
	if got := checkQueue("p", []Op{enq, deq}, drained); got.Status != Failed {
		t.Fatalf("never acked, queue empty: %+v", got)
	}
	if got := checkQueue("p", []Op{enq}, Final{QueueChecked: true, Drained: true, DeadLetters: map[string]string{"id1": "max_attempts"}}); got.Status != Passed {
		t.Fatalf("dead-lettered: %+v", got)
	}
	if got := checkQueue("p", []Op{enq, deq}, Final{QueueChecked: true}); got.Status != Inconclusive {
		t.Fatalf("queue not drained: %+v", got)
	}
	if got := checkQueue("p", []Op{enq, deq, ack, again}, drained); got.Status != Failed {
		t.Fatalf("redelivered after ack: %+v", got)
	}
	phantom := Op{ID: 5, Kind: KindDequeue, Outcome: OK, Msg: "ghost", MsgID: "id9"}
	if got := checkQueue("p", []Op{enq, deq, ack, phantom}, drained); got.Status != Failed {
		t.Fatalf("delivered a message nobody enqueued: %+v", got)
	}
}
