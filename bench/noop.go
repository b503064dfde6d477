package main

import (
	"net"

	"github.com/valyala/fasthttp"
)

// startNoop serves canned, valid lockd responses: the fastest any server
// could answer this client.
func startNoop() *target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	canned := map[string][]byte{
		"/v1/acquire": []byte(`{"correlation_id":"01a216be-7d56-7894-895b-706df04c5ddc","expires_at_unix":1795677942,"fencing_token":1,"key":"k","lease_id":"dc3ttm1ksduaih117bv0","namespace":"default","owner":"w","txn_id":"dc3ttm1ksduaih117bvg","version":0}` + "\n"),
		"/v1/update":  []byte(`{"bytes":256,"metadata":{},"new_state_etag":"31bf75f4c0a97cc1f7b60df824fa390b3be9ba014f29b63c87c698ba63d9a9fd","new_version":1}` + "\n"),
		"/v1/release": []byte(`{"released":true}` + "\n"),
		"/v1/get":     []byte(payload256),
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = ctx.PostBody() // read the request like a real server would
		ctx.Response.Header.Set("X-Correlation-Id", "01a216be-7d56-7894-895b-706df04c5ddc")
		ctx.SetContentType("application/json")
		ctx.SetBody(canned[string(ctx.Path())])
	}}
	go srv.Serve(ln)
	return &target{name: "no-op", addr: ln.Addr().String(), stop: func() { srv.Shutdown() }}
}
