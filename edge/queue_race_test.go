package edge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/server"
)

// Many producers and consumers on one queue, with consumers that defer
// some messages and abandon others to their visibility timeout: in the end
// every message is acked exactly once and none is lost.
func TestQueueManyProducersConsumers(t *testing.T) {
	const producers, consumers, perProducer = 8, 8, 40
	total := producers * perProducer
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * (producers + consumers)}}
		post := func(path, ctype string, body []byte) (int, http.Header, []byte, error) {
			resp, err := hc.Post(s.URL()+path, ctype, bytes.NewReader(body))
			if err != nil {
				return 0, nil, nil, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, b, err
		}
		errs := make(chan error, producers+consumers)
		var wg sync.WaitGroup
		for p := 0; p < producers; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				for i := 0; i < perProducer; i++ {
					body, ctype := multipartBody(t, metaPart(t, map[string]any{"queue": "race", "max_attempts": 1000}),
						part{name: "payload", body: []byte(fmt.Sprintf("%d-%d", p, i))})
					if st, _, b, err := post("/v1/queue/enqueue", ctype, body); err != nil || st != 200 {
						errs <- fmt.Errorf("enqueue: %d %s %v", st, b, err)
						return
					}
				}
			}(p)
		}
		var mu sync.Mutex
		acked := map[string]int{}
		var done atomic.Int64
		deadline := time.Now().Add(3 * time.Minute)
		for c := 0; c < consumers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(c), 7))
				for done.Load() < int64(total) && time.Now().Before(deadline) {
					req, _ := json.Marshal(map[string]any{"queue": "race", "owner": fmt.Sprint("c", c),
						"wait_seconds": 1, "page_size": 1 + rng.IntN(3), "visibility_timeout_seconds": 1})
					st, h, b, err := post("/v1/queue/dequeue", "application/json", req)
					if err != nil {
						errs <- err
						return
					}
					if st == 409 {
						continue
					}
					if st != 200 {
						errs <- fmt.Errorf("dequeue: %d %s", st, b)
						return
					}
					for _, d := range parseDeliveries(t, h.Get("Content-Type"), bytes.NewReader(b)) {
						switch r := rng.IntN(20); {
						case r == 0: // abandon: redelivered after the visibility timeout
						case r == 1:
							body, _ := json.Marshal(with(ackBody(d.Message), "intent", "defer"))
							if st, _, b, err := post("/v1/queue/nack", "application/json", body); err != nil || (st != 200 && st != 403 && st != 404 && st != 409) {
								errs <- fmt.Errorf("nack: %d %s %v", st, b, err)
								return
							}
						default:
							body, _ := json.Marshal(ackBody(d.Message))
							st, _, b, err := post("/v1/queue/ack", "application/json", body)
							if err != nil {
								errs <- err
								return
							}
							switch st {
							case 200:
								mu.Lock()
								acked[string(d.Payload)]++
								mu.Unlock()
								done.Add(1)
							case 403, 404, 409: // timed out first: redelivered (and maybe acked) elsewhere
							default:
								errs <- fmt.Errorf("ack: %d %s", st, b)
								return
							}
						}
					}
				}
			}(c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(acked) != total {
			t.Fatalf("%d of %d messages acked", len(acked), total)
		}
		for p, n := range acked {
			if n != 1 {
				t.Fatalf("message %s acked %d times", p, n)
			}
		}
		if st := stats(t, s, "race"); st.Ready+st.InFlight+st.Delayed+st.DeadLetters != 0 {
			t.Fatalf("queue not empty: %+v", st)
		}
	})
}
