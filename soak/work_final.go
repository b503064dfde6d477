package soak

import (
	"context"
	"sync"
	"time"
)

// sweep reads every key under a fresh lease once traffic has stopped: a
// blocking acquire is answered only when no lease (and so no release or
// transaction apply) is in flight on the key, so the value read is
// final. Each key is tried a bounded number of times; the reads and
// grants join the history (so they are checked too).
func (t *traffic) sweep(ctx context.Context, keys []string, attempts int) (map[string]Val, []string) {
	var (
		mu      sync.Mutex
		vals    = map[string]Val{}
		missing []string
		wg      sync.WaitGroup
		next    = make(chan string)
	)
	for i := range 4 {
		w := &worker{id: 3000 + i, rng: newRand(0, uint64(3000+i))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range next {
				v, ok := t.sweepKey(ctx, w, key, attempts)
				mu.Lock()
				if ok {
					vals[key] = v
				} else {
					missing = append(missing, key)
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		next <- k
	}
	close(next)
	wg.Wait()
	return vals, missing
}

func (t *traffic) sweepKey(ctx context.Context, w *worker, key string, attempts int) (Val, bool) {
	block := int64((t.p.TTL + t.p.Block) / time.Second)
	for range attempts {
		if ctx.Err() != nil {
			return Val{}, false
		}
		sess, grant, err := t.acquire(ctx, w, key, "", t.p.TTL, block)
		if err != nil {
			w.pause(ctx, true)
			continue
		}
		v, _, err := t.leaseGet(ctx, w, sess)
		t.rollback(ctx, &grant, sess)
		t.rec.Add(grant)
		if err == nil {
			return v, true
		}
		w.pause(ctx, true)
	}
	return Val{}, false
}
