package testservers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 3
)

// proc is a running server process.
type proc struct {
	cmd  *exec.Cmd
	addr string        // 127.0.0.1:port
	done chan struct{} // closed when the process has exited
	log  *tailBuffer
	dir  string // scratch directory, removed by stop
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts the server made by args(port, dir) on a free port and
// waits until it accepts connections. A port taken between freePort and
// the server's bind shows as an early exit, and is retried.
func startServer(name, bin string, args func(port int, dir string) []string) (*proc, error) {
	var lastErr error
	for try := 0; try < startTries; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "lockd-"+name+"-")
		if err != nil {
			return nil, err
		}
		p, err := launch(bin, args(port, dir), "127.0.0.1:"+strconv.Itoa(port), dir)
		if err == nil {
			return p, nil
		}
		os.RemoveAll(dir)
		lastErr = fmt.Errorf("testservers: start %s: %w", name, err)
	}
	return nil, lastErr
}

func launch(bin string, args []string, addr, dir string) (*proc, error) {
	p := &proc{addr: addr, done: make(chan struct{}), log: &tailBuffer{max: 16 << 10}, dir: dir}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w\n%s", err, p.log)
	}
	return p, nil
}

// waitReady waits until the server accepts TCP connections, it exits, or
// readyTimeout passes.
func (p *proc) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %v", p.addr, readyTimeout)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited early: %v", p.cmd.ProcessState)
		case <-time.After(delay):
		}
	}
}

// stop terminates the process group, escalating to SIGKILL, and removes
// the scratch directory.
func (p *proc) stop() {
	signalGroup(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	signalGroup(p.cmd.Process.Pid, syscall.SIGKILL) // stray children
	os.RemoveAll(p.dir)
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
