package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// node is one lockd process the harness started, restarted on the same
// loopback port after every fault (the node's identity in transaction
// records is its listen address).
type node struct {
	bin     string
	store   string // store URL
	args    []string
	env     []string
	logPath string

	mu         sync.Mutex
	cmd        *exec.Cmd
	addr       string
	exited     chan struct{} // closed when the current process has exited
	exitErr    error
	expectExit bool
	onExit     func(unexpected bool, err error, tail string)
	logTail    []string
}

// nodeArgs are the server flags every started node gets: loopback,
// short timers so faults play out within a soak phase.
func nodeArgs(bin string) []string {
	args := []string{"--drain-grace", "1s", "--shutdown-timeout", "5s", "--actor-idle-timeout", "2s",
		"--sweeper-interval", "5s", "--default-ttl", "10s", "--log-level", "info", "--log-format", "json"}
	if supportsFlag(bin, "--disable-mtls") {
		args = append(args, "--disable-mtls")
	}
	// Every connection reaches the node through the chaos proxy, from one
	// address, and the proxy's dropped and reset connections look like
	// probes: the connection guard would block the whole run.
	if supportsFlag(bin, "--connguard-enabled") {
		args = append(args, "--connguard-enabled=false")
	}
	return args
}

// supportsFlag reports whether the binary's --help lists flag. It is safe
// for concurrent use.
func supportsFlag(bin, flag string) bool {
	return regexp.MustCompile(regexp.QuoteMeta(flag) + `([\s\[=]|$)`).Match(helpText(bin))
}

// helpProbes caches the --help output of each binary path (*helpProbe):
// every phase starts a node, and the answer does not change within a run.
var helpProbes sync.Map

type helpProbe struct {
	mu   sync.Mutex // held while probing, so one path is probed once
	done bool       // the binary ran (even with a non-zero exit); a failed start or timeout is retried
	out  []byte
}

// helpText returns the output of `bin --help`, run once per path.
func helpText(bin string) []byte {
	v, _ := helpProbes.LoadOrStore(bin, &helpProbe{})
	p := v.(*helpProbe)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	var exit *exec.ExitError
	p.out, p.done = out, ctx.Err() == nil && (err == nil || errors.As(err, &exit))
	return out
}

// start runs the process and waits (bounded) until it logs that it
// serves. The first start picks a free port; restarts reuse it.
func (n *node) start() error {
	n.mu.Lock()
	listen := "127.0.0.1:0"
	if n.addr != "" {
		listen = n.addr
	}
	args := append([]string{"--listen", listen, "--store", n.store}, n.args...)
	cmd := exec.Command(n.bin, args...)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the harness
	stderr, err := cmd.StderrPipe()
	if err != nil {
		n.mu.Unlock()
		return err
	}
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("soak: start lockd: %w", err)
	}
	n.cmd, n.exited, n.expectExit, n.logTail = cmd, make(chan struct{}), false, nil
	exited := n.exited
	n.mu.Unlock()

	ready := make(chan string, 1)
	logf, _ := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	go n.readLog(stderr, logf, ready)
	go n.wait(cmd, exited, logf)
	select {
	case addr := <-ready:
		n.mu.Lock()
		n.addr = addr
		n.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("soak: lockd exited while starting: %w: %s", n.exitErr, n.tail())
	case <-time.After(60 * time.Second):
		n.kill9()
		return fmt.Errorf("soak: lockd did not serve within 60s: %s", n.tail())
	}
}

func (n *node) readLog(r interface{ Read([]byte) (int, error) }, logf *os.File, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if logf != nil {
			logf.Write(append(line, '\n'))
		}
		n.mu.Lock()
		n.logTail = append(n.logTail, string(line))
		if len(n.logTail) > 20 {
			n.logTail = n.logTail[1:]
		}
		n.mu.Unlock()
		var l struct {
			Message string `json:"message"`
			Listen  string `json:"listen"`
		}
		if json.Unmarshal(line, &l) == nil && l.Message == "lockd serving" {
			select {
			case ready <- l.Listen:
			default:
			}
		}
	}
}

func (n *node) wait(cmd *exec.Cmd, exited chan struct{}, logf *os.File) {
	err := cmd.Wait()
	if logf != nil {
		logf.Close()
	}
	n.mu.Lock()
	n.exitErr = err
	unexpected := !n.expectExit
	cb := n.onExit
	n.mu.Unlock()
	close(exited)
	if cb != nil {
		cb(unexpected, err, n.tail())
	}
}

func (n *node) tail() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.logTail, "\n")
}

// running reports whether the current process is alive.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// kill9 sends SIGKILL and waits for the process to be reaped.
func (n *node) kill9() {
	n.signal(syscall.SIGKILL, 10*time.Second)
}

// stop sends SIGTERM (the server drains, then exits) and waits; after
// the bound it kills.
func (n *node) stop(bound time.Duration) error {
	if !n.signal(syscall.SIGTERM, bound) {
		n.kill9()
		return errors.New("soak: lockd did not stop on SIGTERM in time; killed")
	}
	return nil
}

func (n *node) signal(sig syscall.Signal, bound time.Duration) bool {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.expectExit = true
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(bound):
		return false
	}
}

// limitFiles sets the soft RLIMIT_FSIZE of the running server: with 0,
// no file can grow any more, which to the server is a full disk (writes
// fail with EFBIG instead of ENOSPC). restore puts back the old limit.
func (n *node) limitFiles(bytes uint64) (restore func() error, err error) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil, errors.New("soak: no running server")
	}
	pid := cmd.Process.Pid
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, nil, &old); err != nil {
		return nil, fmt.Errorf("soak: read file-size limit: %w", err)
	}
	lim := unix.Rlimit{Cur: bytes, Max: old.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		return nil, fmt.Errorf("soak: set file-size limit: %w", err)
	}
	return func() error {
		if !n.running() {
			return nil
		}
		return unix.Prlimit(pid, unix.RLIMIT_FSIZE, &old, nil)
	}, nil
}

// unsafeTag is the build tag that compiles keyspace's test-only
// LOCKD_TEST_UNSAFE switches into a binary; without it the variable is
// ignored (keyspace/unsafe_off.go).
const unsafeTag = "lockdunsafe"

// buildLockd compiles ./cmd/lockd of the module at root into dir. With
// unsafe set it builds with the lockdunsafe tag, the only build that
// honours LOCKD_TEST_UNSAFE, into dir/lockd-unsafe.
func buildLockd(root, dir string, unsafe bool) (string, error) {
	bin, args := filepath.Join(dir, "lockd"), []string{"build"}
	if unsafe {
		bin, args = filepath.Join(dir, "lockd-unsafe"), append(args, "-tags", unsafeTag)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", bin, "./cmd/lockd")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("soak: go build ./cmd/lockd: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of lockd's go.mod from the working
// directory upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/lockdhq/lockd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("soak: not inside the lockd module; pass -lockd PATH")
}
