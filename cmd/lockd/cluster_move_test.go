package main_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// grant is one lock cycle a worker saw through.
type grant struct {
	key     string
	fencing int64
	at      time.Time // when the grant arrived
}

// Keys move between nodes while workers run lock cycles through the
// balancer: a node leaves gracefully, a new one joins, another is killed
// with -9. Conditional writes fence every stale owner out: no fencing
// token is granted twice, tokens of a key grow in the order the grants
// happened, and every acknowledged increment is in the final counter (an
// increment whose release failed may or may not have committed).
func TestClusterOwnershipMovesKeepFencingAndCommits(t *testing.T) {
	for name, open := range objectStores(t) {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, open)
			keys := []string{"move/a", "move/b", "move/c", "move/d"}
			var (
				mu        sync.Mutex
				grants    []grant
				committed = map[string]int{}
				uncertain = map[string]int{}
			)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			deadline := time.Now().Add(90 * time.Second)
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					base := c.LB.URL()
					for i := 0; time.Now().Before(deadline); i++ {
						select {
						case <-stop:
							return
						default:
						}
						key := keys[(w+i)%len(keys)]
						st, body, err := post(base, "/v1/acquire", api.AcquireRequest{Key: key, Owner: fmt.Sprint("w", w), TTLSeconds: 5, BlockSeconds: 2})
						if err != nil || st != 200 {
							time.Sleep(20 * time.Millisecond) // contended, moving or unreachable: try again
							continue
						}
						var h held
						json.Unmarshal(body, &h.AcquireResponse)
						at := time.Now()
						if _, ok := incrementUnderLease(base, h); !ok {
							continue
						}
						err = h.release(base)
						mu.Lock()
						if err != nil {
							uncertain[key]++
						} else {
							committed[key]++
							grants = append(grants, grant{key, h.FencingToken, at})
						}
						mu.Unlock()
					}
				}(w)
			}
			progress := func(n int) {
				waitFor(t, fmt.Sprintf("%d committed cycles", n), func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(grants) >= n
				})
			}
			progress(20)
			if err := c.Nodes[2].Stop(30 * time.Second); err != nil { // graceful leave
				t.Fatal(err)
			}
			c.Refresh()
			progress(40)
			c.AddNode(t) // join under load
			progress(60)
			c.Nodes[1].Kill() // kill -9
			c.Refresh()
			progress(80)
			close(stop)
			wg.Wait()

			byKey := map[string][]grant{}
			for _, g := range grants {
				byKey[g.key] = append(byKey[g.key], g)
			}
			for key, gs := range byKey {
				sort.Slice(gs, func(i, j int) bool { return gs[i].at.Before(gs[j].at) })
				for i := 1; i < len(gs); i++ {
					if gs[i].fencing <= gs[i-1].fencing {
						t.Fatalf("%s: fencing %d granted after %d", key, gs[i].fencing, gs[i-1].fencing)
					}
				}
			}
			live := c.LB.URL()
			total := 0
			for _, key := range keys {
				n := authoritativeCounter(t, live, key)
				if n < committed[key] || n > committed[key]+uncertain[key] {
					t.Fatalf("%s counter %d after %d acknowledged increments (%d uncertain)", key, n, committed[key], uncertain[key])
				}
				total += committed[key]
			}
			t.Logf("%d acknowledged cycles across a leave, a join and a kill -9", total)
		})
	}
}
