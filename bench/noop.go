package main

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net"
	"net/textproto"
	"time"

	"github.com/valyala/fasthttp"
)

// startNoop serves canned, valid lockd responses to every endpoint the
// bench uses (leases, public reads and the queue): the fastest any server
// could answer this client.
func startNoop() *target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	json := []byte("application/json")
	type canned struct{ ctype, body []byte }
	answers := map[string]canned{
		"/v1/acquire":       {json, []byte(`{"correlation_id":"01a216be-7d56-7894-895b-706df04c5ddc","expires_at_unix":1795677942,"fencing_token":1,"key":"k","lease_id":"dc3ttm1ksduaih117bv0","namespace":"default","owner":"w","txn_id":"dc3ttm1ksduaih117bvg","version":0}` + "\n")},
		"/v1/update":        {json, []byte(`{"bytes":256,"metadata":{},"new_state_etag":"31bf75f4c0a97cc1f7b60df824fa390b3be9ba014f29b63c87c698ba63d9a9fd","new_version":1}` + "\n")},
		"/v1/release":       {json, []byte(`{"released":true}` + "\n")},
		"/v1/get":           {json, []byte(payload256)},
		"/v1/queue/enqueue": {json, []byte(`{"attempts":0,"correlation_id":"01a216be-7d56-7894-895b-706df04c5ddc","failure_attempts":0,"max_attempts":5,"message_id":"01a216be-7d56-7894-895b-706df04c5dde","namespace":"default","not_visible_until_unix":1795677912,"payload_bytes":256,"queue":"q","visibility_timeout_seconds":30}` + "\n")},
		"/v1/queue/ack":     {json, []byte(`{"acked":true,"correlation_id":"01a216be-7d56-7894-895b-706df04c5ddc"}` + "\n")},
	}
	deq, deqType := cannedPage()
	answers["/v1/queue/dequeue"] = canned{[]byte(deqType), deq}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = ctx.PostBody() // read the request like a real server would
		ctx.Response.Header.Set("X-Correlation-Id", "01a216be-7d56-7894-895b-706df04c5ddc")
		a := answers[string(ctx.Path())]
		ctx.SetContentTypeBytes(a.ctype)
		ctx.SetBody(a.body)
	}}
	go srv.Serve(ln)
	return &target{name: "no-op", addr: ln.Addr().String(), stop: func() { srv.Shutdown() }}
}

// cannedPage is a full dequeue page (consumerPage messages of 256 B), like
// a busy queue answers, and its content type.
func cannedPage() ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < consumerPage; i++ {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="meta"; filename="meta-%d.json"`, i))
		w, _ := mw.CreatePart(h)
		w.Write([]byte(`{"message":{"namespace":"default","queue":"q","message_id":"01a216be-7d56-7894-895b-706df04c5dde","attempts":1,"max_attempts":5,"failure_attempts":0,"not_visible_until_unix":1795677942,"visibility_timeout_seconds":30,"payload_content_type":"application/json","payload_bytes":256,"correlation_id":"01a216be-7d56-7894-895b-706df04c5ddc","lease_id":"dc3ttm1ksduaih117bv0","lease_expires_at_unix":1795677942,"fencing_token":1,"txn_id":"dc3ttm1ksduaih117bvg","meta_etag":"m2a"},"next_cursor":"01a216be-7d56-7894-895b-706df04c5dde"}` + "\n"))
		h = textproto.MIMEHeader{}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", "256")
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="payload"; filename="payload-%d"`, i))
		w, _ = mw.CreatePart(h)
		w.Write(message256(time.Unix(0, 1)))
	}
	mw.Close()
	return buf.Bytes(), "multipart/related; boundary=" + mw.Boundary()
}
