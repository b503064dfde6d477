package sdk

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff is the pause before retry number attempt (0-based): full jitter
// over base·2^attempt, capped at maxDelay, and never shorter than the
// server's Retry-After hint.
func backoff(attempt int, base, maxDelay, retryAfter time.Duration) time.Duration {
	ceil := base << min(attempt, 20)
	if ceil <= 0 || ceil > maxDelay {
		ceil = maxDelay
	}
	d := time.Duration(rand.Int64N(int64(ceil)/2+1)) + ceil/2
	return max(d, retryAfter)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable classifies a failed attempt: whether trying again may help
// and whether the next attempt should go to another endpoint.
func retryable(ctx context.Context, err error) (retry, rotate bool) {
	if ctx.Err() != nil {
		return false, false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusTooManyRequests:
			return true, false
		case ae.Status == http.StatusServiceUnavailable, ae.Status == http.StatusBadGateway,
			ae.Status == http.StatusGatewayTimeout:
			return true, true
		}
		return false, false
	}
	// Anything else is the transport's: refused, reset, timed out, a
	// broken response. The endpoint may be down; try the next one.
	return true, true
}

// retryAfter parses a Retry-After header given in seconds.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}
