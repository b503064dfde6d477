package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/sdk"
)

// export is one "export NAME='value'" line for eval.
type export struct{ name, value string }

// writeExports prints export lines, single-quoted so that eval never
// expands anything in a value. Empty values are exported too, so that a
// value left over from an earlier eval (another key's etag, another
// message's state lease) is cleared.
func writeExports(w io.Writer, exports []export) {
	for _, e := range exports {
		fmt.Fprintf(w, "export %s='%s'\n", e.name, strings.ReplaceAll(e.value, "'", `'\''`))
	}
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// outputMode validates an --output value.
func outputMode(v string) (string, error) {
	switch m := strings.ToLower(strings.TrimSpace(v)); m {
	case "json", "text":
		return m, nil
	}
	return "", fmt.Errorf("invalid --output %q (json or text)", v)
}

// defaultOwner names this process: HOST-PID.
func defaultOwner() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "lockd"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// parseBlock reads --block: a duration or seconds, 0/forever to wait
// until interrupted, -1/nowait not to wait.
func parseBlock(v string) (int64, error) {
	switch s := strings.ToLower(strings.TrimSpace(v)); s {
	case "", "0", "forever", "wait-forever", "waitforever", "infinite":
		return sdk.BlockWaitForever, nil
	case "-1", "nowait", "no-wait":
		return sdk.BlockNoWait, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return sdk.BlockNoWait, nil
		}
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid --block %q (e.g. 30s, 2m, forever, nowait)", v)
	}
	if d < 0 {
		return sdk.BlockNoWait, nil
	}
	return max(int64((d+time.Second-1)/time.Second), 1), nil
}

// seconds rounds a positive duration up to whole seconds.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// leaseFlags name a held lease: flags, else the LOCKD_CLIENT_* exported
// by "lockd client acquire".
type leaseFlags struct {
	key, namespace, lease, fencing, txn string
}

func addLeaseFlags(fs *pflag.FlagSet) *leaseFlags {
	l := &leaseFlags{}
	fs.StringVarP(&l.key, "key", "k", "", "key (default $"+envKey+")")
	fs.StringVarP(&l.namespace, "namespace", "n", "", "namespace (default $"+envNamespace+", else the server's)")
	fs.StringVar(&l.lease, "lease", "", "lease id (default $"+envLease+")")
	fs.StringVar(&l.fencing, "fencing-token", "", "fencing token (default $"+envFencingToken+")")
	fs.StringVar(&l.txn, "txn-id", "", "transaction id (default $"+envTxnID+")")
	return l
}

// leaseEnv binds the lease flags to their variables.
func leaseEnv() map[string]string {
	return map[string]string{"key": envKey, "namespace": envNamespace, "lease": envLease,
		"fencing-token": envFencingToken, "txn-id": envTxnID}
}

// keyEnv binds --key and --namespace only (reads that need no lease).
func keyEnv() map[string]string {
	return map[string]string{"key": envKey, "namespace": envNamespace}
}

func required(value, flag, env string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("--%s is required (or set %s)", flag, env)
	}
	return nil
}

// ref returns the lease named by the flags, checking that each part is
// given (the transaction id only for writes: reads do not need it).
func (l *leaseFlags) ref(write bool) (sdk.LeaseRef, error) {
	for _, c := range []struct{ v, flag, env string }{
		{l.key, "key", envKey}, {l.lease, "lease", envLease},
		{l.fencing, "fencing-token", envFencingToken}, {l.txn, "txn-id", envTxnID},
	} {
		if c.flag == "txn-id" && !write {
			continue
		}
		if err := required(c.v, c.flag, c.env); err != nil {
			return sdk.LeaseRef{}, err
		}
	}
	token, err := strconv.ParseInt(strings.TrimSpace(l.fencing), 10, 64)
	if err != nil || token <= 0 {
		return sdk.LeaseRef{}, fmt.Errorf("invalid --fencing-token %q (a positive integer)", l.fencing)
	}
	return sdk.LeaseRef{Namespace: l.namespace, Key: l.key, LeaseID: l.lease, TxnID: l.txn, FencingToken: token}, nil
}

// session resumes the lease named by the flags.
func (cl *cli) session(l *leaseFlags) (*sdk.LeaseSession, error) { return cl.sessionFor(l, true) }

// readSession resumes the lease for reads (no transaction id needed).
func (cl *cli) readSession(l *leaseFlags) (*sdk.LeaseSession, error) { return cl.sessionFor(l, false) }

func (cl *cli) sessionFor(l *leaseFlags, write bool) (*sdk.LeaseSession, error) {
	ref, err := l.ref(write)
	if err != nil {
		return nil, err
	}
	c, err := cl.client()
	if err != nil {
		return nil, err
	}
	return c.Resume(ref), nil
}

// afterDrain releases a lease whose server announced a drain during the
// command (drain-aware CLI, as lockd v0.9), so that another worker can
// take it; the SDK started that release and this waits for it.
func (cl *cli) afterDrain(s *sdk.LeaseSession) {
	if !cl.conn.drainAware || !s.Draining() {
		return
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(cl.stderr, "lockd: server is draining; releasing the lease failed: %s\n", explain(err))
		return
	}
	fmt.Fprintln(cl.stderr, "lockd: server is draining; lease released")
}

// openInput opens FILE, or stdin for "-".
func (cl *cli) openInput(path string) (io.ReadCloser, error) {
	if path == "" || path == "-" {
		return io.NopCloser(cl.stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openOutput creates FILE, or returns stdout for "-".
func (cl *cli) openOutput(path string) (io.WriteCloser, error) {
	if path == "" || path == "-" {
		return nopWriteCloser{cl.stdout}, nil
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
