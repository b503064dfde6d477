package actors

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/lockdhq/lockd/actors"

// tracedCall is Call under an "actor.handoff" span, a child of the
// caller's span, from the send to the durable reply. The actor's store
// calls for this request are children of it (TraceContext).
func (c *Caller) tracedCall(ctx context.Context, id string, r *Request, b *Blocking) (any, error) {
	op := strings.TrimPrefix(fmt.Sprintf("%T", r.Op), "*")
	ctx, span := otel.Tracer(tracerName).Start(ctx, "actor.handoff", trace.WithAttributes(
		attribute.String("lockd.actor.id", id),
		attribute.String("lockd.actor.op", op),
		attribute.String("lockd.sys", "core.actor"),
	))
	defer span.End()
	r.span = span.SpanContext()
	if b != nil {
		r.Blocks()
	}
	c.send(id, r)
	v, err := c.Await(ctx, id, r, b)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return v, err
}

// TraceContext returns a context for the store calls an actor makes on
// behalf of r: it carries r's hand-off span (when the caller was traced)
// so those calls become its children, and nothing else — no deadline or
// cancellation of the caller, whose departure must not cut a write short.
func (r *Request) TraceContext() context.Context {
	if r == nil || !r.span.IsValid() {
		return context.Background()
	}
	return trace.ContextWithSpanContext(context.Background(), r.span)
}
