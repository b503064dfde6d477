package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"mime/multipart"
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
	h := benchServer(b)
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

// BenchmarkHandlerQueue drives enqueue (256 B JSON, multipart) → dequeue
// (page of 4, every fourth op) → ack through the handler without a
// network: lockd's own cost per message, like BenchmarkHandlerCycle.
//
//	go test -run '^$' -bench HandlerQueue -benchmem ./server
func BenchmarkHandlerQueue(b *testing.B) {
	h := benchServer(b)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormField("meta")
	w.Write([]byte(`{"queue":"bench","payload_content_type":"application/json"}`))
	w, _ = mw.CreateFormField("payload")
	w.Write([]byte(`{"pad":"` + string(make256()) + `"}`))
	mw.Close()
	enq, ctype := body.Bytes(), mw.FormDataContentType()
	var ctx fasthttp.RequestCtx
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	do := func(path, ct string, body []byte) *fasthttp.Response {
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.Header.SetContentType(ct)
		req.SetRequestURI(path)
		req.SetBody(body)
		ctx.Init(&req, addr, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%s: %d %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		return &ctx.Response
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 4 {
		for j := 0; j < 4; j++ {
			do("/v1/queue/enqueue", ctype, enq)
		}
		resp := do("/v1/queue/dequeue", "application/json", []byte(`{"queue":"bench","owner":"b","page_size":4}`))
		_, params, err := mime.ParseMediaType(string(resp.Header.ContentType()))
		if err != nil {
			b.Fatal(err)
		}
		var acks [][]byte
		mr := multipart.NewReader(bytes.NewReader(resp.Body()), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if p.FormName() != "meta" {
				continue
			}
			var m struct {
				Message struct {
					Queue        string `json:"queue"`
					MessageID    string `json:"message_id"`
					LeaseID      string `json:"lease_id"`
					FencingToken int64  `json:"fencing_token"`
					MetaETag     string `json:"meta_etag"`
					TxnID        string `json:"txn_id"`
				} `json:"message"`
			}
			if err := json.NewDecoder(p).Decode(&m); err != nil {
				b.Fatal(err)
			}
			a, _ := json.Marshal(map[string]any{"queue": m.Message.Queue, "message_id": m.Message.MessageID, "lease_id": m.Message.LeaseID,
				"fencing_token": m.Message.FencingToken, "meta_etag": m.Message.MetaETag, "txn_id": m.Message.TxnID})
			acks = append(acks, a)
		}
		if len(acks) != 4 {
			b.Fatalf("dequeued %d of 4", len(acks))
		}
		for _, a := range acks {
			do("/v1/queue/ack", "application/json", a)
		}
	}
}

// benchServer starts a server on the mem store for b and returns its
// handler; the server stops when b ends.
func benchServer(b *testing.B) fasthttp.RequestHandler {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := server.StartOn(ln, mem.New(), server.Config{SweeperInterval: -1})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv.RequestHandler()
}

func make256() []byte {
	b := make([]byte, 246)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
