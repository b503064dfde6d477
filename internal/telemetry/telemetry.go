package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
)

// ServiceName is the service.name of lockd's spans unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES names another.
const ServiceName = "lockd"

// enabled is set while a provider that exports spans is installed; the
// edge starts no span without it, so a server without --otlp-endpoint pays
// one atomic load per request.
var enabled atomic.Bool

// Enabled reports whether spans are being exported.
func Enabled() bool { return enabled.Load() }

// Options tune Start.
type Options struct {
	// InstanceID is service.instance.id (a cluster node id); optional.
	InstanceID string
	// BatchTimeout is how long spans wait to be exported together
	// (default 5s, the SDK's).
	BatchTimeout time.Duration
}

// Provider is an installed tracer provider. Shutdown exports what is
// buffered and uninstalls it.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Start installs a global tracer provider that exports spans to endpoint
// over OTLP (see ParseEndpoint) and the W3C trace-context propagator. The
// exporter connects lazily: an unreachable collector costs dropped spans
// and a log line of the SDK, never a failed request.
func Start(ctx context.Context, endpoint string, o Options) (*Provider, error) {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := newExporter(ctx, ep)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w", ep, err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", ServiceName)}
	if o.InstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", o.InstanceID))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	var bo []sdktrace.BatchSpanProcessorOption
	if o.BatchTimeout > 0 {
		bo = append(bo, sdktrace.WithBatchTimeout(o.BatchTimeout))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, bo...),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	enabled.Store(true)
	return &Provider{tp: tp}, nil
}

func newExporter(ctx context.Context, ep Endpoint) (sdktrace.SpanExporter, error) {
	if ep.Protocol == GRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep.HostPort)}
		if ep.TLS {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
		} else {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep.HostPort), otlptracehttp.WithURLPath(ep.Path)}
	if !ep.TLS {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// ForceFlush exports every finished span now.
func (p *Provider) ForceFlush(ctx context.Context) error { return p.tp.ForceFlush(ctx) }

// Shutdown exports buffered spans, stops the exporter and puts the no-op
// provider back.
func (p *Provider) Shutdown(ctx context.Context) error {
	enabled.Store(false)
	otel.SetTracerProvider(noop.NewTracerProvider())
	return p.tp.Shutdown(ctx)
}
