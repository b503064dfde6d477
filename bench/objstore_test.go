package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/disk"
)

// objectStores opens the stores the benchmark compares.
func objectStores(b *testing.B) map[string]func() (store.Store, func() uint64) {
	return map[string]func() (store.Store, func() uint64){
		"disk": func() (store.Store, func() uint64) {
			st, err := disk.Open(b.TempDir(), disk.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return st, nil
		},
		"s3": func() (store.Store, func() uint64) {
			st := testservers.NewS3Store(b)
			return st, func() uint64 { return st.Stats().RoundTrips() }
		},
		"azure": func() (store.Store, func() uint64) {
			st := testservers.NewAzureStore(b)
			return st, func() uint64 { return st.Stats().RoundTrips() }
		},
	}
}

// BenchmarkObjectStores measures each lock-cycle step on disk, S3
// (versitygw) and Azure (Azurite) over HTTP on loopback, then queue
// enqueue and dequeue+ack of 256-byte messages, with the store
// round trips each costs, and checks that public reads of a hot key stay
// in the actor's memory:
//
//	go test -run '^$' -bench ObjectStores -benchtime 2000x ./bench
func BenchmarkObjectStores(b *testing.B) {
	stores := objectStores(b)
	for _, name := range []string{"disk", "s3", "azure"} {
		b.Run(name, func(b *testing.B) {
			st, trips := stores[name]()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := server.StartOn(ln, st, server.Config{})
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				srv.Close(ctx)
			}()
			c := newClient(&target{addr: ln.Addr().String()}, 8)
			phase := func(label string, op func(i int) error) {
				var before uint64
				if trips != nil {
					before = trips()
				}
				start := time.Now()
				var wg sync.WaitGroup
				var mu sync.Mutex
				var firstErr error
				per := max(b.N/8, 1)
				for w := 0; w < 8; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						for i := 0; i < per; i++ {
							if err := op(w*per + i); err != nil {
								mu.Lock()
								firstErr = err
								mu.Unlock()
								return
							}
						}
					}(w)
				}
				wg.Wait()
				if firstErr != nil {
					b.Fatalf("%s: %v", label, firstErr)
				}
				n := float64(per * 8)
				b.ReportMetric(n/time.Since(start).Seconds(), label+"/s")
				if trips != nil {
					b.ReportMetric(float64(trips()-before)/n, label+"-roundtrips/op")
				}
			}
			held := make([]held, max(b.N/8, 1)*8)
			key := func(i int) string { return "bench/os/" + strconv.Itoa(i) }
			phase("acquire", func(i int) (err error) { held[i], err = c.acquire(key(i), "b", 0); return })
			phase("update", func(i int) error { return c.update(held[i], key(i)) })
			phase("release", func(i int) error { return c.release(held[i], key(i)) })
			phase("public-read", func(i int) error { return c.publicGet(key(i % 16)) }) // hot keys
			q := newQueueClient(&target{addr: ln.Addr().String()}, 8, "bench-os")
			phase("enqueue", func(i int) error { return q.enqueue(message256(time.Now())) })
			phase("dequeue+ack", func(i int) error {
				ds, err := q.dequeue("w"+strconv.Itoa(i), 5, 1)
				if err != nil {
					return err
				}
				if len(ds) != 1 {
					return fmt.Errorf("dequeue %d: got %d messages, want 1", i, len(ds))
				}
				return q.ack(ds[0].meta)
			})
			if trips != nil {
				// Let the index write what the commits queued (background
				// store traffic), then count what the reads alone cost.
				if st, body, err := c.do("/v1/index/flush?namespace=default", "{}"); err != nil || st != 200 {
					b.Fatalf("flush: %d %s %v", st, body, err)
				}
				before := trips()
				for i := 0; i < 100; i++ {
					if err := c.publicGet(key(0)); err != nil {
						b.Fatal(err)
					}
				}
				if got := trips() - before; got != 0 {
					b.Fatalf("100 public reads of a hot key cost %d store round trips, want 0", got)
				}
			}
		})
	}
}
