package domainerr_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/domainerr"
)

func TestErrorWrapsSentinel(t *testing.T) {
	sentinel := errors.New("pkg: thing")
	err := fmt.Errorf("outer: %w", &domainerr.Error{Err: sentinel, Detail: "why", RetryAfter: time.Second})
	if !errors.Is(err, sentinel) {
		t.Fatal("errors.Is does not reach the sentinel")
	}
	var de *domainerr.Error
	if !errors.As(err, &de) || de.RetryAfter != time.Second {
		t.Fatalf("errors.As: %v", de)
	}
	if got := err.Error(); got != "outer: pkg: thing: why" {
		t.Fatalf("Error() = %q", got)
	}
	if got := domainerr.New(sentinel, "").Error(); got != "pkg: thing" {
		t.Fatalf("no detail: %q", got)
	}
}
