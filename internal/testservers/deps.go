package testservers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// installTimeout bounds scripts/testdeps.sh: building versitygw from
// source takes about three minutes on two cores.
const installTimeout = 8 * time.Minute

var (
	installOnce sync.Once
	installOut  []byte
	installErr  error
)

// CacheDir is where scripts/testdeps.sh installs the servers.
func CacheDir() string {
	if d := os.Getenv("LOCKD_TESTDEPS_DIR"); d != "" {
		return d
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/tmp"
	}
	return filepath.Join(home, ".cache", "lockd-testdeps")
}

// findBinary returns the path of a server binary: on PATH, else at
// cached (relative to CacheDir), installing the test deps if needed.
func findBinary(name, cached string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(CacheDir(), cached)
	if isExecutable(p) {
		return p, nil
	}
	installOnce.Do(install)
	if installErr != nil {
		return "", fmt.Errorf("testservers: scripts/testdeps.sh: %w\n%s", installErr, installOut)
	}
	if !isExecutable(p) {
		return "", fmt.Errorf("testservers: %s missing after scripts/testdeps.sh\n%s", p, installOut)
	}
	return p, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// install runs scripts/testdeps.sh from this source tree.
func install() {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		installErr = fmt.Errorf("cannot locate the source tree")
		return
	}
	script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "testdeps.sh")
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "LOCKD_TESTDEPS_DIR="+CacheDir())
	cmd.Stdout = io.MultiWriter(os.Stderr, &out) // a first run takes minutes: show why
	cmd.Stderr = cmd.Stdout
	installErr = cmd.Run()
	installOut = out.Bytes()
}
