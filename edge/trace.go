package edge

import (
	"context"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lockdhq/lockd/internal/telemetry"
)

// tracerName is the instrumentation scope of the edge's spans.
const tracerName = "github.com/lockdhq/lockd/edge"

// AttrCorrelationID is the span attribute holding the request's
// X-Correlation-Id, as in lockd v0.9.
const AttrCorrelationID = "lockd.correlation_id"

// startSpan opens the request's server span when tracing is on, as a child
// of the W3C traceparent the client sent, and puts it in c.ctx so that
// domain calls (actor hand-offs, store calls) become its children. It
// returns the function that ends it, or nil when tracing is off.
func (c *call) startSpan(rt *route) func() {
	if !telemetry.Enabled() {
		return nil
	}
	parent := otel.GetTextMapPropagator().Extract(c.ctx, requestCarrier{&c.Request.Header})
	method := string(c.Method())
	ctx, span := otel.Tracer(tracerName).Start(parent, method+" "+string(c.Path()),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("url.path", string(c.Path())),
			attribute.String("lockd.operation", rt.name),
			attribute.String("lockd.sys", "api.http.server"),
			attribute.String(AttrCorrelationID, c.cid),
		))
	c.ctx = ctx
	return func() {
		status := c.Response.StatusCode()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
		span.End()
	}
}

// injectTrace writes c's span as the traceparent of a request forwarded to
// the key's owner, replacing the one the client sent, so the owner's span
// is a child of this node's.
func (c *call) injectTrace(req *fasthttp.Request) {
	if !trace.SpanContextFromContext(c.ctx).IsValid() {
		return
	}
	otel.GetTextMapPropagator().Inject(c.ctx, requestCarrier{&req.Header})
}

// traceCtx is the context to log a request's lines with: telemetry.LogHook
// adds its trace_id and span_id.
func (c *call) traceCtx() context.Context {
	if c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// requestCarrier adapts fasthttp request headers to the propagators.
type requestCarrier struct{ h *fasthttp.RequestHeader }

func (r requestCarrier) Get(key string) string { return string(r.h.Peek(key)) }
func (r requestCarrier) Set(key, value string) { r.h.Set(key, value) }
func (r requestCarrier) Keys() []string {
	var keys []string
	for k := range r.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}
