package telemetry

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Protocol is an OTLP transport.
type Protocol string

// The OTLP transports.
const (
	GRPC Protocol = "grpc"
	HTTP Protocol = "http"
)

// Endpoint is a parsed --otlp-endpoint.
type Endpoint struct {
	Protocol Protocol
	// HostPort is the collector's address, with the transport's default
	// port (4317 for gRPC, 4318 for HTTP) when none was given.
	HostPort string
	// Path is the URL path of OTLP/HTTP (default /v1/traces).
	Path string
	// TLS is true for grpcs:// and https://.
	TLS bool
}

// ParseEndpoint reads an --otlp-endpoint as lockd v0.9 did: a bare host or
// host:port is OTLP/gRPC in plaintext; grpc:// and grpcs:// force gRPC
// (plaintext, TLS), http:// and https:// OTLP/HTTP. A missing port is the
// transport's default (4317 gRPC, 4318 HTTP).
func ParseEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Endpoint{}, fmt.Errorf("telemetry: empty OTLP endpoint")
	}
	if !strings.Contains(s, "://") {
		return withPort(Endpoint{Protocol: GRPC}, s, "", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("telemetry: OTLP endpoint %q: %w", s, err)
	}
	var e Endpoint
	switch strings.ToLower(u.Scheme) {
	case "grpc":
		e = Endpoint{Protocol: GRPC}
	case "grpcs":
		e = Endpoint{Protocol: GRPC, TLS: true}
	case "http":
		e = Endpoint{Protocol: HTTP}
	case "https":
		e = Endpoint{Protocol: HTTP, TLS: true}
	default:
		return Endpoint{}, fmt.Errorf("telemetry: OTLP endpoint %q: scheme %q is not grpc, grpcs, http or https", s, u.Scheme)
	}
	if e.Protocol == GRPC && u.Path != "" && u.Path != "/" {
		return Endpoint{}, fmt.Errorf("telemetry: OTLP/gRPC endpoint %q takes no path", s)
	}
	return withPort(e, u.Host, u.Path, s)
}

func withPort(e Endpoint, host, path, orig string) (Endpoint, error) {
	if host == "" {
		return Endpoint{}, fmt.Errorf("telemetry: OTLP endpoint %q names no host", orig)
	}
	if strings.ContainsAny(host, "/?#") {
		return Endpoint{}, fmt.Errorf("telemetry: OTLP endpoint %q: a path needs an http:// or https:// scheme", orig)
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "4317"
		if e.Protocol == HTTP {
			port = "4318"
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	e.HostPort = host
	if e.Protocol == HTTP {
		if path == "" || path == "/" {
			path = "/v1/traces"
		}
		e.Path = path
	}
	return e, nil
}

// String returns the endpoint as a URL.
func (e Endpoint) String() string {
	scheme := string(e.Protocol)
	if e.TLS {
		scheme += "s"
	}
	return scheme + "://" + e.HostPort + e.Path
}
