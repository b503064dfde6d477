package testcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Node is a lockd server running as a child process.
type Node struct {
	cmd  *exec.Cmd
	args []string
	env  []string
	bin  string
	// URL is the API base URL; ID the node's cluster identity (empty when
	// clustering is off); Gossip its gossip address.
	URL, ID, Gossip string
	// Client reaches the node (http.DefaultClient unless the test set a
	// TLS client).
	Client *http.Client

	mu   sync.Mutex
	tail []string // the last log lines, for failure messages
	done chan struct{}
}

// StartNode runs bin with args (after a loopback listener, plain HTTP and
// no drain grace, which later args may override) and waits until it serves.
func StartNode(t testing.TB, bin string, env []string, args ...string) *Node {
	t.Helper()
	n := &Node{bin: bin, env: env, args: args, Client: http.DefaultClient}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Kill)
	return n
}

// readyLine is the log line a node prints once it serves.
type readyLine struct {
	Message string `json:"message"`
	Listen  string `json:"listen"`
	NodeID  string `json:"node_id"`
	Gossip  string `json:"gossip"`
}

func (n *Node) start() error {
	args := append([]string{"--listen", "127.0.0.1:0", "--drain-grace", "0s", "--disable-mtls"}, n.args...)
	cmd := exec.Command(n.bin, args...)
	cmd.Env = append(os.Environ(), n.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd, n.done = cmd, make(chan struct{})
	ready := make(chan readyLine, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.keep(sc.Text())
			var l readyLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "lockd serving" {
				ready <- l
			}
		}
		// Wait only once stderr is read to its end: Wait closes the pipe,
		// and the last lines (why a node exited) would be lost.
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(n.done)
	}()
	select {
	case l := <-ready:
		scheme := "http"
		if slices.Contains(n.args, "--disable-mtls=false") {
			scheme = "https"
		}
		n.URL, n.ID, n.Gossip = scheme+"://"+l.Listen, l.NodeID, l.Gossip
		return nil
	case <-n.done:
		return fmt.Errorf("testcluster: lockd exited before serving:\n%s", n.Log())
	case <-time.After(60 * time.Second):
		n.Kill()
		return fmt.Errorf("testcluster: lockd did not start:\n%s", n.Log())
	}
}

func (n *Node) keep(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tail = append(n.tail, line)
	if len(n.tail) > 200 {
		n.tail = n.tail[len(n.tail)-100:]
	}
}

// Log returns the node's last log lines.
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.tail, "\n")
}

// Kill sends SIGKILL and reaps the process (kill -9: no leave, no drain).
func (n *Node) Kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// Stop sends SIGTERM and waits up to bound for a clean exit.
func (n *Node) Stop(bound time.Duration) error {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return nil
	case <-time.After(bound):
		n.Kill()
		return fmt.Errorf("testcluster: node %s did not stop within %s", n.ID, bound)
	}
}

// Signal sends sig to the process.
func (n *Node) Signal(sig syscall.Signal) { n.cmd.Process.Signal(sig) }

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}
