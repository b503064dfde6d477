package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/sdk/api"
)

// payload256 is a 256-byte JSON document.
var payload256 = `{"worker":"bench","cursor":123456,"items":["` + strings.Repeat("x", 256-57) + `"],"ok":true}`

func init() {
	if len(payload256) != 256 {
		panic(fmt.Sprintf("payload is %d bytes", len(payload256)))
	}
}

type client struct{ hc *fasthttp.HostClient }

func newClient(t *target, conns int) *client {
	return &client{hc: &fasthttp.HostClient{Addr: t.addr, MaxConns: conns, ReadTimeout: 2 * time.Minute}}
}

func (c *client) do(path, body string, headers ...string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + c.hc.Addr + path)
	req.Header.SetMethod("POST")
	req.SetBodyString(body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if err := c.hc.Do(req, resp); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

type held struct{ api.AcquireResponse }

func (c *client) acquire(key, owner string, block int) (held, error) {
	st, body, err := c.do("/v1/acquire", fmt.Sprintf(`{"key":%q,"owner":%q,"ttl_seconds":60,"block_seconds":%d}`, key, owner, block))
	if err != nil {
		return held{}, fmt.Errorf("acquire: %w", err)
	}
	if st != 200 {
		return held{}, fmt.Errorf("acquire: %d %s", st, body)
	}
	var h held
	return h, json.Unmarshal(body, &h.AcquireResponse)
}

func (c *client) update(h held, key string) error {
	st, body, err := c.do("/v1/update?key="+key, payload256, api.HeaderLeaseID, h.LeaseID, api.HeaderTxnID, h.TxnID,
		api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10))
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if st != 200 {
		return fmt.Errorf("update: %d %s", st, body)
	}
	return nil
}

func (c *client) release(h held, key string) error {
	st, body, err := c.do("/v1/release", fmt.Sprintf(`{"key":%q,"lease_id":%q,"txn_id":%q}`, key, h.LeaseID, h.TxnID),
		api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if st != 200 {
		return fmt.Errorf("release: %d %s", st, body)
	}
	return nil
}

func (c *client) publicGet(key string) error {
	st, body, err := c.do("/v1/get?public=1&key="+key, "")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if st != 200 {
		return fmt.Errorf("get: %d %s", st, body)
	}
	return nil
}

// result is one measured run.
type result struct {
	ops      int64
	elapsed  time.Duration
	p50, p99 time.Duration
	perW     []int64
	err      error
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// run calls op from n workers until the duration or the op budget ends.
func run(n int, op func(w int, i int64) error) result {
	var total atomic.Int64
	lats := make([][]time.Duration, n)
	perW := make([]int64, n)
	errs := make(chan error, n)
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := int64(0); time.Now().Before(deadline) && total.Add(1) <= *maxOps; i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					errs <- err
					return
				}
				if len(lats[w]) < 1<<20 {
					lats[w] = append(lats[w], time.Since(t0))
				}
				perW[w]++
			}
		}(w)
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), perW: perW}
	var all []time.Duration
	for w := range lats {
		r.ops += perW[w]
		all = append(all, lats[w]...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	select {
	case r.err = <-errs:
	default:
	}
	return r
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

var incMu sync.Mutex

func atomicInc(p *int64) int64 {
	incMu.Lock()
	defer incMu.Unlock()
	*p++
	return *p
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
