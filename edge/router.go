package edge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/sdk/api"
)

// call is one request being served.
type call struct {
	*fasthttp.RequestCtx
	srv *Server
	cid string
	// ctx bounds the request's domain calls: it ends at the request's
	// deadline, when its response is complete, or when the server shuts
	// down (deadline.go). It is never the RequestCtx, which fasthttp
	// reuses once the handler returns.
	ctx context.Context
	dl  *deadline
	// auth is the mTLS authorization state; nil when mTLS is off.
	auth *authState
	// class is the route's admission class; admitted is true while the
	// request is counted in flight by this call (admit.go).
	class    admission.Class
	admitted bool
	// body is the deadline-aware request body stream (deadline.go).
	body *timedBody

	// Cluster routing (cluster.go): routable until the first ref decides
	// where the request is served; recording the body until then;
	// forwarded when another node sent it here, for fwdPeer.
	routable, recording, forwarded bool
	rec                            *recorder
	fwdPeer                        *peer
	// fwdID names this request when it is forwarded (HeaderForwardID).
	fwdID string
}

type handler func(c *call) error

type route struct {
	name    string
	methods string // comma-separated allowed methods, "" = any (as lockd v0.9)
	h       handler
	latency *metrics.Histogram
	status  *statusCounters
	auth    policy          // authorization under mTLS (authz.go)
	class   admission.Class // admission control (admit.go)
	routed  bool            // acts on one key or queue: served by its owner (cluster.go)
}

func (s *Server) buildRoutes() map[string]route {
	r := map[string]route{}
	add := func(path, name, methods string, h handler) {
		r[path] = route{name: name, methods: methods, h: h, auth: policyFor(path), class: routeClasses[name], routed: routedPaths[path], status: &statusCounters{route: name},
			latency: metrics.GetOrCreateHistogram(fmt.Sprintf(`lockd_http_request_duration_seconds{route=%q}`, name))}
	}
	add("/healthz", "healthz", "", s.healthz)
	add("/readyz", "readyz", "", s.readyz)
	add("/v1/cluster/members", "cluster.members", "GET", s.clusterMembers)
	add(clusterFlushPath, "cluster.flush", "POST", s.clusterFlush)
	add(api.PathClusterAbandon, "cluster.abandon", "POST", s.clusterAbandon)
	add(muxPath, "cluster.mux", "POST", s.clusterMux)
	s.leaseRoutes(add)
	s.queueRoutes(add)
	s.attachmentRoutes(add)
	s.queryRoutes(add)
	s.txnRoutes(add)
	return r
}

// addFunc registers a route; each feature file has a *Routes function.
type addFunc func(path, name, methods string, h handler)

func (s *Server) leaseRoutes(add addFunc) {
	add("/v1/acquire", "acquire", "", s.acquire)
	add("/v1/keepalive", "keepalive", "", s.keepAlive)
	add("/v1/release", "release", "", s.release)
	add("/v1/describe", "describe", "", s.describe)
	add("/v1/get", "get", "", s.get)
	add("/v1/update", "update", "", s.update)
	add("/v1/remove", "remove", "", s.remove)
	add("/v1/metadata", "metadata", "", s.metadata)
}

// statusCounters counts one route's responses by status code without a
// lookup that allocates on every request.
type statusCounters struct {
	route string
	by    [500]atomic.Pointer[metrics.Counter] // status 100..599
}

func (sc *statusCounters) count(status int) {
	if status < 100 || status > 599 {
		status = 500
	}
	p := &sc.by[status-100]
	c := p.Load()
	if c == nil {
		c = metrics.GetOrCreateCounter(fmt.Sprintf(`lockd_http_requests_total{route=%q,status="%d"}`, sc.route, status))
		p.Store(c)
	}
	c.Inc()
}

var unknownRoute = &statusCounters{route: "unknown"}

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	c := &call{RequestCtx: ctx, srv: s, cid: correlationID(ctx)}
	ctx.Response.Header.Set(api.HeaderCorrelationID, c.cid)
	if s.draining.Load() {
		ctx.Response.Header.Set(api.HeaderShutdownImminent, "true")
	}
	rt, ok := s.routes[string(ctx.Path())]
	if !ok {
		writeError(ctx, fail(404, api.CodeNotFound, "no such endpoint: "+string(ctx.Path())))
		unknownRoute.count(404)
		return
	}
	c.dl, c.class = s.newDeadline(), rt.class
	c.ctx = c.dl.ctx
	if end := c.startSpan(&rt); end != nil {
		defer end()
	}
	defer func() {
		s.done(c)
		c.dl.finish()
		c.dl = nil // pooled (deadline.go)
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Ctx(c.traceCtx()).Str("route", rt.name).Str("correlation_id", c.cid).Interface("panic", p).Msg("handler panic")
			ctx.Response.Reset()
			ctx.Response.Header.Set(api.HeaderCorrelationID, c.cid)
			writeError(ctx, fail(500, api.CodeInternal, "internal server error"))
		}
		rt.status.count(ctx.Response.StatusCode())
		rt.latency.UpdateDuration(start)
	}()
	if rt.methods != "" && !strings.Contains(","+rt.methods+",", ","+string(ctx.Method())+",") {
		ctx.Response.Header.Set("Allow", strings.ReplaceAll(rt.methods, ",", ", "))
		writeError(ctx, fail(405, api.CodeMethodNotAllowed, "method not allowed; use "+rt.methods))
		return
	}
	if s.cluster != nil {
		ctx.Response.Header.Set(api.HeaderServedBy, s.cluster.Self().ID)
		c.forwarded = c.trustForward()
		c.routable = rt.routed
		c.recording = rt.routed && !c.forwarded
	}
	if s.cfg.TLS != nil {
		if c.forwarded {
			p, err := s.forwardedPeer(string(ctx.Request.Header.Peek(api.HeaderForwardedClient)))
			if err != nil {
				writeError(ctx, fail(403, api.CodeNamespaceForbidden, err.Error()))
				return
			}
			c.fwdPeer = p
		}
		if err := c.authorize(rt.auth); err != nil {
			writeError(ctx, toHTTP(err))
			return
		}
	}
	if g := s.cfg.Gate; g != nil && !g.Serving() && rt.name != "healthz" && rt.name != "readyz" {
		writeError(ctx, passive(g))
		return
	}
	if !s.admit(c, rt.class) {
		return
	}
	if err := rt.h(c); err != nil {
		var fe *forwardError
		if errors.As(err, &fe) {
			s.forward(c, fe.to)
			return
		}
		he := toHTTP(c.timedOut(err))
		s.logFailure(c.traceCtx(), rt.name, c.cid, err, he)
		writeError(ctx, he)
	}
}

// correlationID returns the request's valid X-Correlation-Id (printable
// ASCII, at most 128 bytes) or a fresh one.
func correlationID(ctx *fasthttp.RequestCtx) string {
	v := ctx.Request.Header.Peek(api.HeaderCorrelationID)
	if len(v) > 0 && len(v) <= api.MaxCorrelationIDLen {
		ok := true
		for _, b := range v {
			if b < 0x20 || b > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return string(v)
		}
	}
	return newCorrelationID()
}

// newCorrelationID returns a UUIDv7 (RFC 9562: 48-bit Unix milliseconds,
// version, 74 random bits) drawn from the runtime's per-thread ChaCha8
// generator (seeded from the OS): unique enough for correlation ids, which
// are not secrets, without a call into crypto/rand or an allocation beyond
// the string.
func newCorrelationID() string {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	a, b := rand.Uint64(), rand.Uint64()
	for i := 6; i < 16; i++ {
		u[i] = byte(a)
		a >>= 8
		if i == 11 {
			a = b
		}
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	const hexdig = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexdig[x>>4], hexdig[x&0x0f]
		j += 2
	}
	return string(s[:])
}
