// Package failpoint lets crash tests kill the process at named points.
// A point fires only when its name is listed in LOCKD_FAILPOINT
// (comma-separated); production never sets it. Firing sends SIGKILL to
// the process itself, exactly like an operator's kill -9.
package failpoint

import (
	"os"
	"strings"
	"syscall"
)

var armed = parse(os.Getenv("LOCKD_FAILPOINT"))

func parse(v string) map[string]bool {
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		out[strings.TrimSpace(n)] = true
	}
	return out
}

// Hit kills the process if name is armed.
func Hit(name string) {
	if armed[name] {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
