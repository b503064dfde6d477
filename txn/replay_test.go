package txn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

// The leader's replay rounds reach every unapplied decision however many
// applied records the store retains and however slow it reads: the
// newest record (listed last) is replayed although reading all of them
// takes longer than one FanoutTimeout.
func TestReplayReachesTheNewestRecordBehindManyApplied(t *testing.T) {
	base, clk := mem.New(), clock.NewFake(time.Now())
	put := func(id string, state txn.State, applied bool, parts []txn.Participant) {
		rec, _ := json.Marshal(map[string]any{"id": id, "state": state, "created": clk.Now().Unix(), "decided": clk.Now().Unix(),
			"applied": applied, "participants": parts})
		if _, err := base.Put(ctx(t), ".txns/t/"+id, rec, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		put(fmt.Sprintf("a%03d", i), txn.Commit, true, []txn.Participant{{Namespace: "default", Key: fmt.Sprint("k", i)}})
	}
	put("z-newest", txn.Commit, false, []txn.Participant{
		{Kind: txn.KindMessage, Namespace: "default", Queue: "q", MessageID: "m1", LeaseID: "l", Fencing: 3}})
	st := slowRecords{Store: base, delay: 10 * time.Millisecond} // 41 reads: ~410 ms a round
	sys := actors.NewSystem()
	keys := keyspace.New(sys, st, keyspace.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}})
	defer keys.Close()
	rm := &recordingRM{seen: make(chan applied, 4)}
	txns := txn.New(sys, st, keys, txn.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}, Messages: rm,
		FanoutTimeout: 150 * time.Millisecond, ReplayInterval: 100 * time.Millisecond})
	defer txns.Close()
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { txns.Run(run); close(done) }()
	defer func() { stop(); <-done }()
	select {
	case got := <-rm.seen:
		if got != (applied{txnID: "z-newest", id: "m1", commit: true}) {
			t.Fatalf("applied %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the newest unapplied decision was never replayed")
	}
}
