package soak

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeBin writes a script at path that appends a line to calls on every
// run, prints help and exits with code.
func fakeBin(t *testing.T, path, calls, help, code string) {
	t.Helper()
	script := "#!/bin/sh\necho run >>" + calls + "\nprintf '%s\\n' '" + help + "'\nexit " + code + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func runs(t *testing.T, calls string) int {
	t.Helper()
	b, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// TestSupportsFlagProbesOnce checks that concurrent node starts run a
// binary's --help once per path, and that the answers stay per path and
// per flag.
func TestSupportsFlagProbesOnce(t *testing.T) {
	dir := t.TempDir()
	with, without := filepath.Join(dir, "with"), filepath.Join(dir, "without")
	fakeBin(t, with, filepath.Join(dir, "with.calls"), "  --disable-mtls  serve plain HTTP", "0")
	fakeBin(t, without, filepath.Join(dir, "without.calls"), "  --disable-mtlsx  not the flag", "2") // a non-zero exit is an answer too
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				if !supportsFlag(with, "--disable-mtls") || supportsFlag(with, "--bundle") {
					errs <- "with: wrong answer"
				}
				if supportsFlag(without, "--disable-mtls") {
					errs <- "without: --disable-mtls reported"
				}
				if a := nodeArgs(with); a[len(a)-1] != "--disable-mtls" {
					errs <- "nodeArgs(with) lacks --disable-mtls: " + strings.Join(a, " ")
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if n, m := runs(t, filepath.Join(dir, "with.calls")), runs(t, filepath.Join(dir, "without.calls")); n != 1 || m != 1 {
		t.Fatalf("--help ran %d and %d times, want once per binary", n, m)
	}
}

// TestSupportsFlagRetriesFailedProbe checks that a binary that could not
// be run is probed again at the next start instead of cached as "no".
func TestSupportsFlagRetriesFailedProbe(t *testing.T) {
	dir := t.TempDir()
	bin, calls := filepath.Join(dir, "later"), filepath.Join(dir, "later.calls")
	if supportsFlag(bin, "--disable-mtls") {
		t.Fatal("a missing binary supports the flag")
	}
	fakeBin(t, bin, calls, "--disable-mtls", "0")
	first := supportsFlag(bin, "--disable-mtls")
	second := supportsFlag(bin, "--disable-mtls") // answered from the cache
	if !first || !second || runs(t, calls) != 1 {
		t.Fatalf("after the binary appeared: probed %d times, want once with the flag found", runs(t, calls))
	}
}

// TestRealServerSupportsDisableMTLS checks the probe against the lockd
// binary the soak tests start.
func TestRealServerSupportsDisableMTLS(t *testing.T) {
	if !supportsFlag(lockdBin, "--disable-mtls") {
		t.Fatalf("%s --help does not list --disable-mtls:\n%s", lockdBin, helpText(lockdBin))
	}
}
