package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/internal/telemetry"
)

// startTracing installs the OTLP trace exporter of --otlp-endpoint; nil
// (and no error) when the flag is empty.
func startTracing(f *serveFlags, log zerolog.Logger) (*telemetry.Provider, error) {
	if f.otlpEndpoint == "" {
		return nil, nil
	}
	var o telemetry.Options
	if f.cfg.Cluster != nil {
		o.InstanceID = f.cfg.Cluster.Self
	}
	p, err := telemetry.Start(context.Background(), f.otlpEndpoint, o)
	if err != nil {
		return nil, err
	}
	ep, _ := telemetry.ParseEndpoint(f.otlpEndpoint)
	log.Info().Str("sys", "observability.telemetry.exporter").Str("otlp_endpoint", ep.String()).Msg("exporting traces")
	return p, nil
}

// stopTracing exports the spans still buffered, within a few seconds.
func stopTracing(p *telemetry.Provider, log zerolog.Logger) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		log.Warn().Str("sys", "observability.telemetry.exporter").Err(err).Msg("trace exporter shutdown")
	}
}
