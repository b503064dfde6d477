// Package telemetry installs lockd's OpenTelemetry tracing: an OTLP
// exporter (gRPC or HTTP, chosen by the endpoint's scheme as lockd v0.9
// did), the W3C trace-context propagator, and a zerolog hook that adds
// trace_id and span_id to log lines written with a span's context.
//
// Without Start nothing is installed: Enabled is false, the edge starts no
// spans, and the actor and store layers see no recording span and record
// nothing.
package telemetry
