package txn_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

// applied is one ApplyMessage call.
type applied struct {
	txnID, id string
	commit    bool
}

// recordingRM is a MessageRM that reports each apply on a channel.
type recordingRM struct {
	seen chan applied
}

func (r *recordingRM) PrepareMessage(context.Context, string, txn.Participant) error { return nil }

func (r *recordingRM) ApplyMessage(_ context.Context, txnID string, p txn.Participant, commit bool) error {
	r.seen <- applied{txnID: txnID, id: p.MessageID, commit: commit}
	return nil
}

// Recovery replays a decided transaction to its message participant
// through the MessageRM given to New: nothing is left for the sweeper.
func TestRecoverAppliesDecisionToMessages(t *testing.T) {
	for _, state := range []txn.State{txn.Commit, txn.Rollback} {
		t.Run(string(state), func(t *testing.T) {
			st, clk := mem.New(), clock.NewFake(time.Now())
			rec, _ := json.Marshal(map[string]any{"id": "t1", "state": state, "created": clk.Now().Unix(), "decided": clk.Now().Unix(),
				"participants": []txn.Participant{
					{Namespace: "default", Key: "k"},
					{Kind: txn.KindMessage, Namespace: "default", Queue: "q", MessageID: "m1", LeaseID: "l", Fencing: 3},
				}})
			if _, err := st.Put(ctx(t), ".txns/t/t1", rec, store.Cond{}); err != nil {
				t.Fatal(err)
			}
			sys := actors.NewSystem()
			keys := keyspace.New(sys, st, keyspace.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}})
			defer keys.Close()
			rm := &recordingRM{seen: make(chan applied, 4)}
			txns := txn.New(sys, st, keys, txn.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}, Messages: rm})
			defer txns.Close()
			if err := txns.Recover(ctx(t)); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-rm.seen:
				if got != (applied{txnID: "t1", id: "m1", commit: state == txn.Commit}) {
					t.Fatalf("applied %+v", got)
				}
			case <-ctx(t).Done():
				t.Fatal("recovery never applied the decision to the message")
			}
			// The record ends applied: the sweeper has nothing to redo.
			waitApplied(t, st, "t1")
		})
	}
}

func waitApplied(t *testing.T, st store.Store, id string) {
	t.Helper()
	c := ctx(t)
	for {
		got, err := st.Get(c, ".txns/t/"+id)
		var rec struct{ Applied bool }
		if err == nil && json.Unmarshal(got.Value, &rec) == nil && rec.Applied {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("record %s never marked applied: %s %v", id, got.Value, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
