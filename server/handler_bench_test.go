package server_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// BenchmarkHandlerCycle drives acquire → update (256 B) → release through
// the server's HTTP handler without a network, so that ns/op and
// allocs/op are lockd's own cost per cycle (three requests), without the
// client, the kernel and fasthttp's connection loop. Keys cycle over 1024.
//
//	go test -run '^$' -bench HandlerCycle -benchmem ./server
func BenchmarkHandlerCycle(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := server.StartOn(ln, mem.New(), server.Config{SweeperInterval: -1})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	}()
	h := srv.Handler()
	state := []byte(`{"pad":"` + string(make256()) + `"}`)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
		do := func(path string, body []byte, hdr ...string) []byte {
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI(path)
			req.SetBody(body)
			for i := 0; i < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			ctx.Init(&req, addr, nil)
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("%s: %d %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
			}
			return ctx.Response.Body()
		}
		for pb.Next() {
			key := "k" + strconv.FormatInt(next.Add(1)%1024, 10)
			var l struct {
				LeaseID      string `json:"lease_id"`
				TxnID        string `json:"txn_id"`
				FencingToken int64  `json:"fencing_token"`
			}
			if err := json.Unmarshal(do("/v1/acquire", []byte(`{"key":"`+key+`","owner":"b","ttl_seconds":30,"block_seconds":5}`)), &l); err != nil {
				b.Fatal(err)
			}
			fence := strconv.FormatInt(l.FencingToken, 10)
			do("/v1/update?key="+key, state, "X-Lease-ID", l.LeaseID, "X-Txn-ID", l.TxnID, "X-Fencing-Token", fence)
			do("/v1/release", []byte(`{"key":"`+key+`","lease_id":"`+l.LeaseID+`","txn_id":"`+l.TxnID+`"}`), "X-Fencing-Token", fence)
		}
	})
}

func make256() []byte {
	b := make([]byte, 246)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
