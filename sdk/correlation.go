package sdk

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"

	"github.com/lockdhq/lockd/sdk/api"
)

type correlationKey struct{}

// WithCorrelationID returns a context whose requests carry id in the
// X-Correlation-Id header. An id the server would reject (empty, longer
// than 128 bytes, not printable ASCII) is ignored.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	id, ok := NormalizeCorrelationID(id)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationIDFromContext returns the correlation id set with
// WithCorrelationID, or "".
func CorrelationIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// CorrelationIDFromResponse returns the X-Correlation-Id of a response.
func CorrelationIDFromResponse(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return resp.Header.Get(api.HeaderCorrelationID)
}

// NormalizeCorrelationID trims id and reports whether the server accepts
// it: 1 to 128 bytes of printable ASCII.
func NormalizeCorrelationID(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > api.MaxCorrelationIDLen {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return "", false
		}
	}
	return id, true
}

// GenerateCorrelationID returns a fresh random id (UUID version 4 form).
func GenerateCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// correlationTransport sets X-Correlation-Id on every request.
type correlationTransport struct {
	base http.RoundTripper
	id   string
}

func (t *correlationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.id == "" {
		return base.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.Header.Set(api.HeaderCorrelationID, t.id)
	return base.RoundTrip(r)
}

// WithCorrelationTransport wraps base (nil: http.DefaultTransport) so
// that every request carries X-Correlation-Id: id, replacing any it had.
// An id the server would reject is ignored (requests pass unchanged).
func WithCorrelationTransport(base http.RoundTripper, id string) http.RoundTripper {
	id, _ = NormalizeCorrelationID(id)
	return &correlationTransport{base: base, id: id}
}

// WithCorrelationHTTPClient returns a copy of cli (nil: a new client)
// whose requests all carry X-Correlation-Id: id, for code that calls the
// HTTP API without the SDK. cli itself is left unchanged.
func WithCorrelationHTTPClient(cli *http.Client, id string) *http.Client {
	var c http.Client
	if cli != nil {
		c = *cli
	}
	c.Transport = WithCorrelationTransport(c.Transport, id)
	return &c
}
