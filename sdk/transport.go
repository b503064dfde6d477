package sdk

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// endpoint is one base URL the client may send requests to.
type endpoint struct {
	// raw is the endpoint as configured (after normalisation).
	raw string
	// base is the URL prefix of requests ("http://host:port/prefix";
	// "http://lockd" for unix sockets).
	base string
	hc   *http.Client
}

// ParseEndpoints splits a comma-separated list of endpoints and
// normalises each: a bare host[:port] becomes https:// (http:// when
// disableMTLS) and gets port 9341 when it names none; http(s):// URLs and
// unix:///path.sock are kept as given.
func ParseEndpoints(list string, disableMTLS bool) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		n, err := normalizeEndpoint(raw, disableMTLS)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, ErrNoEndpoints
	}
	return out, nil
}

func normalizeEndpoint(raw string, disableMTLS bool) (string, error) {
	if strings.HasPrefix(raw, "unix://") {
		if socketPath(raw) == "" {
			return "", fmt.Errorf("lockd: endpoint %q: unix socket path required (unix:///path.sock)", raw)
		}
		return raw, nil
	}
	bare := !strings.Contains(raw, "://")
	if bare {
		scheme := "https://"
		if disableMTLS {
			scheme = "http://"
		}
		raw = scheme + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("lockd: endpoint %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("lockd: endpoint %q: scheme must be https, http or unix", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("lockd: endpoint %q: host required", raw)
	}
	if bare && u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "9341")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// socketPath is the path of a unix:// endpoint ("unix:///run/l.sock" and
// "unix:/run/l.sock" name /run/l.sock; "unix://./l.sock" a relative one).
func socketPath(raw string) string {
	p := strings.TrimPrefix(raw, "unix:")
	p = strings.TrimPrefix(p, "//")
	return p
}

// transports builds the HTTP clients of the endpoints.
type transports struct {
	cfg *config
	tls *tls.Config
	tcp *http.Client
}

// newTransports builds the transports of the normalised endpoints eps.
// $HOME/.lockd is searched for a bundle only when the client's own
// transport dials an https endpoint, so plain-http, unix-socket and
// WithHTTPClient users are never stopped by a broken folder.
func newTransports(cfg *config, eps []string) (*transports, error) {
	t := &transports{cfg: cfg}
	discover := cfg.httpClient == nil && slices.ContainsFunc(eps, func(ep string) bool {
		return strings.HasPrefix(ep, "https://")
	})
	var err error
	if t.tls, err = clientTLS(cfg, discover); err != nil {
		return nil, err
	}
	if cfg.httpClient != nil {
		t.tcp = cfg.httpClient
	} else {
		t.tcp = &http.Client{Transport: t.base()}
	}
	return t, nil
}

// base is a transport tuned for many short requests over HTTP/1.1
// keep-alive connections to a few hosts.
func (t *transports) base() *http.Transport {
	d := &net.Dialer{Timeout: t.cfg.httpTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSClientConfig:       t.tls,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}

func (t *transports) endpoint(raw string) (*endpoint, error) {
	if !strings.HasPrefix(raw, "unix://") {
		return &endpoint{raw: raw, base: raw, hc: t.tcp}, nil
	}
	path := socketPath(raw)
	tr := t.base()
	if ht, ok := t.tcp.Transport.(*http.Transport); ok && t.cfg.httpClient != nil {
		tr = ht.Clone()
	}
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return &endpoint{raw: raw, base: "http://lockd", hc: &http.Client{Transport: tr}}, nil
}
