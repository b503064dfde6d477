package txn_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/txn"
)

var seedFlag = flag.Uint64("txn.seed", 0, "replay one property-test schedule")

// openTxn is a transaction a simulated client holds.
type openTxn struct {
	id     int
	leases []keyspace.Lease
}

// TestPropertyAllOrNothing runs random schedules of multi-key transactions
// with commits, rollbacks, expiries and crashes. Every transaction appends
// its id to each of its keys' state; at the end each key's list must be
// exactly the committed transactions that touched it, in commit order.
func TestPropertyAllOrNothing(t *testing.T) {
	seeds := []uint64{*seedFlag}
	if *seedFlag == 0 {
		for i := uint64(1); i <= 25; i++ {
			seeds = append(seeds, i)
		}
		seeds = seeds[1:]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { runSchedule(t, seed) })
	}
}

func runSchedule(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	e := newEnv(t)
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	want := map[string][]int{} // committed txn ids per key, in order
	held := map[string]bool{}
	var open []*openTxn
	next := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d (replay: go test ./txn -run Property -txn.seed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
	}
	finish := func(o *openTxn, committed bool) {
		for _, l := range o.leases {
			delete(held, l.Key)
			if committed {
				want[l.Key] = append(want[l.Key], o.id)
			}
		}
		open = slices.DeleteFunc(open, func(x *openTxn) bool { return x == o })
	}
	for step := 0; step < 60; step++ {
		switch r := rng.IntN(10); {
		case r < 4: // start a transaction over 1-3 free keys
			var free []string
			for _, k := range keys {
				if !held[k] {
					free = append(free, k)
				}
			}
			if len(free) == 0 {
				continue
			}
			rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
			o := &openTxn{id: next}
			next++
			txnID := ""
			for _, k := range free[:1+rng.IntN(min(3, len(free)))] {
				l := e.acquire(k, txnID, 10*time.Second)
				txnID = l.TxnID
				held[k] = true
				o.leases = append(o.leases, l)
				e.appendID(l, o.id)
			}
			open = append(open, o)
		case r < 6 && len(open) > 0: // commit via a random participant
			o := open[rng.IntN(len(open))]
			err := e.release(o.leases[rng.IntN(len(o.leases))], false)
			switch {
			case err == nil:
				finish(o, true)
			case errors.Is(err, txn.ErrAborted), errors.Is(err, keyspace.ErrAborted), errors.Is(err, keyspace.ErrLeaseExpired):
				finish(o, false) // the release says the writes are gone
			default:
				fail("commit: %v", err)
			}
		case r < 7 && len(open) > 0: // roll back
			o := open[rng.IntN(len(open))]
			if err := e.release(o.leases[rng.IntN(len(o.leases))], true); err != nil {
				fail("rollback: %v", err)
			}
			finish(o, false)
		case r < 8: // time passes: some leases may expire
			e.clk.Advance(time.Duration(rng.IntN(12)) * time.Second)
		case r < 9:
			e.crash()
		default: // a stale participant releases again: must be harmless
			if len(open) > 0 {
				o := open[rng.IntN(len(open))]
				l := o.leases[0]
				l.Fencing += 100
				e.release(l, false)
			}
		}
		// Transactions whose leases all expired are decided by the
		// coordinator's sweep below; settle what is certain now.
	}
	// Expire everything left open and let the coordinator finish.
	e.clk.Advance(time.Minute)
	if err := e.txns.Sweep(ctx(t)); err != nil {
		fail("sweep: %v", err)
	}
	for _, k := range keys {
		got := e.ids(k)
		// Open transactions may have committed only if a release said so;
		// they never did, so their ids must not appear.
		if !slices.Equal(got, want[k]) {
			fail("key %s = %v, want %v", k, got, want[k])
		}
	}
}

// appendID stages the holder's list with id appended.
func (e *env) appendID(l keyspace.Lease, id int) {
	e.t.Helper()
	_, err := e.keys.Mutate(ctx(e.t), keyspace.MutateRequest{Ref: l.Ref, LeaseProof: proof(l)}, func(doc any) (any, error) {
		var ids []any
		if doc != nil {
			ids = doc.([]any)
		}
		return append(ids, id), nil
	})
	if err != nil {
		e.t.Fatalf("append: %v", err)
	}
}

func (e *env) ids(key string) []int {
	e.t.Helper()
	s := e.public(key)
	if s == "-" {
		return nil
	}
	var out []int
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		e.t.Fatalf("state %q: %v", s, err)
	}
	return out
}
