package txn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/actors"
	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/txn"
)

// slowRecords is a store whose reads of transaction records take a while,
// like an object store's GET: a round bounded in time reads only some of
// them.
type slowRecords struct {
	*mem.Store
	delay time.Duration
}

func (s slowRecords) Get(ctx context.Context, key string) (store.Record, error) {
	if strings.HasPrefix(key, ".txns/t/") {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return store.Record{}, ctx.Err()
		case <-t.C:
		}
	}
	return s.Store.Get(ctx, key)
}

// A sweep round is bounded (the sweeper gives it its interval): with more
// decided, unapplied records than one round reads, the next round goes on
// where the previous one stopped, so every record is replayed after a few
// rounds instead of the first ones again and again.
func TestSweepResumesWhereABoundedRoundStopped(t *testing.T) {
	st, txns := slowRecordsEnv(t, clock.NewFake(time.Now()), txn.Config{})
	// One round reads about 6 of the 12 records (20 ms each, 120 ms).
	for range 12 {
		rctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
		_ = txns.Sweep(rctx) // a round cut short by its bound reports it
		cancel()
	}
	waitAllApplied(t, st, "12 bounded sweep rounds")
}

// The leader's replay loop is bounded the same way (FanoutTimeout per
// round) and resumes the same way.
func TestReplayLoopResumesWhereABoundedRoundStopped(t *testing.T) {
	st, txns := slowRecordsEnv(t, clock.Real{}, txn.Config{FanoutTimeout: 120 * time.Millisecond, ReplayInterval: 50 * time.Millisecond})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); txns.Run(rctx) }()
	defer func() { cancel(); <-done }()
	waitAllApplied(t, st, "the replay loop's bounded rounds")
}

const slowN = 12

// slowRecordsEnv stores slowN decided, unapplied commit records (t00 to
// t11) and starts a coordinator on a store whose record reads take 20 ms.
// It does not call Recover, which would replay every record at once.
func slowRecordsEnv(t *testing.T, clk clock.Clock, cfg txn.Config) (*mem.Store, *txn.Service) {
	t.Helper()
	st := mem.New()
	for i := range slowN {
		id := fmt.Sprintf("t%02d", i)
		rec, _ := json.Marshal(map[string]any{"id": id, "state": txn.Commit, "created": clk.Now().Unix(), "decided": clk.Now().Unix(),
			"participants": []txn.Participant{{Namespace: "default", Key: "k" + id}}})
		if _, err := st.Put(ctx(t), ".txns/t/"+id, rec, store.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	slow := slowRecords{Store: st, delay: 20 * time.Millisecond}
	sys := actors.NewSystem()
	keys := keyspace.New(sys, slow, keyspace.Config{Clock: clk, Actors: actors.Config{IdleAfter: -1}})
	t.Cleanup(keys.Close)
	cfg.Clock, cfg.Actors = clk, actors.Config{IdleAfter: -1}
	txns := txn.New(sys, slow, keys, cfg)
	t.Cleanup(txns.Close)
	return st, txns
}

// waitAllApplied waits until every record of slowRecordsEnv is applied.
func waitAllApplied(t *testing.T, st *mem.Store, after string) {
	t.Helper()
	unapplied := func() []string {
		var out []string
		for i := range slowN {
			id := fmt.Sprintf("t%02d", i)
			got, err := st.Get(ctx(t), ".txns/t/"+id)
			var rec struct{ Applied bool }
			if err != nil || json.Unmarshal(got.Value, &rec) != nil || !rec.Applied {
				out = append(out, id)
			}
		}
		return out
	}
	c := ctx(t)
	for {
		left := unapplied()
		if len(left) == 0 {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("after %s, %d records were never replayed: %v", after, len(left), left)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
