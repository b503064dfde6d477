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
