package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/disk"
)

var queryDocs = flag.Int("query-docs", 100_000, "documents in the query scenario")

const queryNS = "bq"

// queryDoc is document i of the query scenario: cat has 1000 values (a
// selective equality hits 0.1%), n is spread over [0, 100000) out of key
// order (a 1% range is scattered over the namespace).
func queryDoc(i int) string {
	return fmt.Sprintf(`{"id":%d,"cat":"c%03d","n":%d,"status":"s%d","owner":{"name":"u%d"},"pad":"%s"}`,
		i, i%1000, (i*7919)%100_000, i%5, i%97, strings.Repeat("x", 64))
}

// runQuery seeds -query-docs documents on a disk server and measures
// index against scan query latency, NDJSON streaming and commit
// throughput with the index on and off.
func runQuery(tmp string) {
	on := startDiskLockd(tmp, tmp+"/query-on", false)
	defer on.stop()
	off := startDiskLockd(tmp, tmp+"/query-off", true)
	defer off.stop()

	start := time.Now()
	seeded := seedQueryDocs(on, *queryDocs)
	seedTime := time.Since(start)
	t0 := time.Now()
	st, body, err := newClient(on, 1).do("/v1/index/flush?namespace="+queryNS, "")
	check(statusErr(st, body, err))
	fmt.Printf("seeded %d documents on disk in %v (%.0f commits/s, index on); flush after seeding %v\n\n",
		seeded, seedTime.Round(time.Millisecond), float64(seeded)/seedTime.Seconds(), time.Since(t0).Round(time.Millisecond))

	header(fmt.Sprintf("query latency, %d documents on disk, one client, limit 100", seeded), "query", "engine", "queries", "p50 ms", "p99 ms", "keys/page", "server CPU µs/query")
	sels := []struct{ name, sel string }{
		{"equality /cat=c042 (0.1%)", `{"eq":{"field":"/cat","value":"c042"}}`},
		{"range 50000<=/n<51000 (1%)", `{"range":{"field":"/n","gte":50000,"lt":51000}}`},
	}
	for _, s := range sels {
		for _, engine := range []string{"index", "scan"} {
			measureQuery(on, s.name, engine, s.sel)
		}
	}
	fmt.Println()

	header("NDJSON documents streamed (return=documents, pages of 1000)", "query", "engine", "documents", "seconds", "documents/s", "server CPU µs/1000 docs")
	streamAll(on, "all documents", "scan", `{}`)
	streamAll(on, "range 0<=/n<20000 (20%)", "index", `{"range":{"field":"/n","gte":0,"lt":20000}}`)
	fmt.Println()

	header("commits (acquire → update 6-field doc → release), 64 workers, disk", "index", "cycles/s", "p50 ms", "p99 ms", "server CPU µs/cycle")
	for _, t := range []*target{on, off} {
		commitRate(t)
	}
	fmt.Println()
}

// startDiskLockd starts a lockd on a disk store in dir, named after
// whether its secondary index is on: a child process of the lockd binary
// (tmp holds the one built for this run), so that its CPU is measured
// apart from the client's, or with -inproc a server in this process.
func startDiskLockd(tmp, dir string, indexOff bool) *target {
	name := "on"
	if indexOff {
		name = "off"
	}
	if *inProc {
		return startDiskLockdInProc(name, dir, indexOff)
	}
	flags := []string{"--actor-idle-timeout", "5s"}
	if indexOff {
		flags = append(flags, "--disable-index")
	}
	t, _ := startLockdNode(name, lockdBinaryForCluster(tmp), "disk://"+dir, nil, flags...)
	return t
}

// startDiskLockdInProc is startDiskLockd in this process (-inproc): it
// has commit and fsync counts but no server CPU of its own.
func startDiskLockdInProc(name, dir string, indexOff bool) *target {
	ds, err := disk.Open(dir, disk.Options{})
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := server.StartOn(ln, ds, server.Config{ActorIdle: 5 * time.Second, IndexOff: indexOff})
	return &target{name: name, addr: ln.Addr().String(), srv: srv, counts: func() counts { return counts{commits: ds.Commits(), syncs: ds.Syncs()} }, stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Close(ctx)
	}}
}

func statusErr(st int, body []byte, err error) error {
	if err == nil && st/100 != 2 {
		err = fmt.Errorf("status %d: %s", st, body)
	}
	return err
}

// commitDoc writes body under key in ns with one lease cycle.
func commitDoc(c *client, ns, key, body string) error {
	st, b, err := c.do("/v1/acquire", fmt.Sprintf(`{"namespace":%q,"key":%q,"owner":"bench","ttl_seconds":60}`, ns, key))
	if err := statusErr(st, b, err); err != nil {
		return err
	}
	var h held
	if err := jsonUnmarshal(b, &h.AcquireResponse); err != nil {
		return err
	}
	hdr := []string{api.HeaderLeaseID, h.LeaseID, api.HeaderTxnID, h.TxnID, api.HeaderFencingToken, strconv.FormatInt(h.FencingToken, 10)}
	st, b, err = c.do("/v1/update?namespace="+ns+"&key="+key, body, hdr...)
	if err := statusErr(st, b, err); err != nil {
		return err
	}
	st, b, err = c.do("/v1/release", fmt.Sprintf(`{"namespace":%q,"key":%q,"lease_id":%q,"txn_id":%q}`, ns, key, h.LeaseID, h.TxnID), hdr[4:]...)
	return statusErr(st, b, err)
}

// seedQueryDocs commits documents 0..n-1 with 64 workers (bounded by n,
// not by -d) and returns how many were written.
func seedQueryDocs(t *target, n int) int {
	c := newClient(t, 64)
	saved, savedD := *maxOps, *duration
	*maxOps, *duration = int64(n), time.Hour
	var next atomic.Int64
	r := run(64, func(w int, i int64) error {
		k := int(next.Add(1) - 1)
		return commitDoc(c, queryNS, fmt.Sprintf("doc/%07d", k), queryDoc(k))
	})
	*maxOps, *duration = saved, savedD
	check(r.err)
	return int(r.ops)
}

func measureQuery(t *target, name, engine, sel string) {
	c := newClient(t, 1)
	path := "/v1/query?limit=100&engine=" + engine
	body := fmt.Sprintf(`{"namespace":%q,"selector":%s}`, queryNS, sel)
	keys := 0
	saved := *maxOps
	*maxOps = 2000
	m := startMeter(t)
	r := run(1, func(w int, i int64) error {
		st, b, err := c.do(path, body)
		if err := statusErr(st, b, err); err != nil {
			return err
		}
		var qr api.QueryResponse
		if err := jsonUnmarshal(b, &qr); err != nil {
			return err
		}
		keys = len(qr.Keys)
		return nil
	})
	*maxOps = saved
	u := m.done()
	line := fmt.Sprintf("| %s | %s | %d | %s | %s | %d | %s |", name, engine, r.ops, ms(r.p50), ms(r.p99), keys, perOp(u.cpu, float64(r.ops)))
	if r.err != nil {
		line += " error: " + r.err.Error()
	}
	fmt.Println(line)
}

// streamAll pages through a documents query and counts NDJSON rows.
func streamAll(t *target, name, engine, sel string) {
	hc := &http.Client{Timeout: 10 * time.Minute}
	docs, cursor := 0, ""
	m := startMeter(t)
	start := time.Now()
	for page := 0; page < 100_000; page++ {
		u := fmt.Sprintf("http://%s/v1/query?return=documents&limit=1000&engine=%s&cursor=%s", t.addr, engine, url.QueryEscape(cursor))
		resp, err := hc.Post(u, "application/json", strings.NewReader(fmt.Sprintf(`{"namespace":%q,"selector":%s}`, queryNS, sel)))
		check(err)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			docs++
		}
		check(sc.Err())
		resp.Body.Close()
		if cursor = resp.Trailer.Get(api.HeaderQueryCursor); cursor == "" {
			break
		}
	}
	el := time.Since(start)
	u := m.done()
	fmt.Printf("| %s | %s | %d | %.2f | %.0f | %s |\n", name, engine, docs, el.Seconds(), float64(docs)/el.Seconds(), perOp(u.cpu, float64(docs)/1000))
}

func commitRate(t *target) {
	c := newClient(t, 64)
	// Wake the namespace's index (it is built on first use), so the "on"
	// row pays for maintaining it.
	st, body, err := c.do("/v1/index/flush?namespace=bc", "")
	check(statusErr(st, body, err))
	m := startMeter(t)
	r := run(64, func(w int, i int64) error {
		k := fmt.Sprintf("c/%02d/%d", w, i%64)
		return commitDoc(c, "bc", k, queryDoc(int(i)*64+w))
	})
	u := m.done()
	line := fmt.Sprintf("| %s | %.0f | %s | %s | %s |", t.name, r.rate(), ms(r.p50), ms(r.p99), perOp(u.cpu, float64(r.ops)))
	if r.err != nil {
		line += " error: " + r.err.Error()
	}
	fmt.Println(line)
}
