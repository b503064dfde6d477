package soak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk"
)

// Outcome is what a client knows about an operation's effect.
type Outcome uint8

const (
	// OK: the server answered success; the effect happened.
	OK Outcome = iota
	// Fail: the server answered a definite refusal (4xx); no effect.
	Fail
	// Unknown: no definite answer (timeout, transport error, 5xx); the
	// effect may or may not have happened, now or later.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "error"
	}
	return "unknown"
}

// MarshalText encodes the outcome by name in JSON reports.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ok":
		*o = OK
	case "error":
		*o = Fail
	case "unknown":
		*o = Unknown
	default:
		return fmt.Errorf("soak: unknown outcome %q", b)
	}
	return nil
}

// Kind names an operation type in histories and reports.
type Kind string

// The operations the workloads record.
const (
	KindAcquire  Kind = "acquire"   // grant of a lease (token recorded)
	KindCycle    Kind = "cycle"     // read under lease, stage n+1, release
	KindRollback Kind = "rollback"  // read under lease, stage, roll back
	KindTxn      Kind = "txn"       // multi-key transaction commit
	KindRead     Kind = "read"      // public read of committed state
	KindLeaseGet Kind = "lease-get" // read of a key under its lease
	KindQuery    Kind = "query"     // LQL query returning documents
	KindEnqueue  Kind = "enqueue"
	KindDequeue  Kind = "dequeue"
	KindAck      Kind = "ack"
	KindNack     Kind = "nack"
	KindZombie   Kind = "zombie" // commit attempted after a client pause
)

// Val is a counter document's identity: its count and the operation that
// wrote it. Every write carries a fresh W, so a value names its writer.
type Val struct {
	N int64  `json:"n"`
	W string `json:"w,omitempty"`
}

// Op is one recorded operation. Times are offsets from the run's start
// on the monotonic clock.
type Op struct {
	ID      int64         `json:"id"`
	Phase   string        `json:"phase"`
	Worker  int           `json:"worker"`
	Kind    Kind          `json:"kind"`
	Key     string        `json:"key,omitempty"` // key or queue
	Keys    []string      `json:"keys,omitempty"`
	Call    time.Duration `json:"call"`
	Return  time.Duration `json:"return"`
	Outcome Outcome       `json:"outcome"`
	Code    string        `json:"code,omitempty"` // error code, "timeout", "transport"
	Err     string        `json:"err,omitempty"`

	// Leases: token and identity of a grant; EndCall is the earliest call
	// of a request that may have ended the lease (0: none was sent).
	Token   int64         `json:"token,omitempty"`
	LeaseID string        `json:"lease_id,omitempty"`
	TxnID   string        `json:"txn_id,omitempty"`
	TTL     time.Duration `json:"ttl,omitempty"`
	EndCall time.Duration `json:"end_call,omitempty"`

	// State: what a read saw, what a commit expected and wrote (per key
	// of Keys for transactions).
	Read  *Val  `json:"read,omitempty"`
	Reads []Val `json:"reads,omitempty"` // query rows / txn snapshot, by Keys
	Old   []Val `json:"old,omitempty"`
	New   []Val `json:"new,omitempty"`

	// Queue: our payload id, the server's message id and attempt count.
	Msg      string `json:"msg,omitempty"`
	MsgID    string `json:"msg_id,omitempty"`
	Attempts int64  `json:"attempts,omitempty"`
	Poison   bool   `json:"poison,omitempty"`
}

// Latency is the time from call to return.
func (o *Op) Latency() time.Duration { return o.Return - o.Call }

// Recorder collects the operations of a run. It is safe for concurrent
// use; ops are appended when they complete.
type Recorder struct {
	start time.Time
	phase string
	mu    sync.Mutex
	ops   []Op
	next  int64
}

// NewRecorder starts a history whose offsets count from start.
func NewRecorder(start time.Time) *Recorder { return &Recorder{start: start} }

// Now is the current offset from the run's start (monotonic).
func (r *Recorder) Now() time.Duration { return time.Since(r.start) }

// SetPhase names the phase of the operations recorded from now on.
func (r *Recorder) SetPhase(p string) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
}

// Add records a completed operation and returns its id.
func (r *Recorder) Add(op Op) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	op.ID, op.Phase = r.next, r.phase
	r.ops = append(r.ops, op)
	return op.ID
}

// Ops returns the operations of one phase ("" for all), ordered by call.
func (r *Recorder) Ops(phase string) []Op {
	r.mu.Lock()
	var out []Op
	for _, op := range r.ops {
		if phase == "" || op.Phase == phase {
			out = append(out, op)
		}
	}
	r.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// classify turns a call's error into an outcome and a short code: server
// refusals (4xx) are definite, everything else may have taken effect.
func classify(err error) (Outcome, string) {
	if err == nil {
		return OK, ""
	}
	var ae *sdk.APIError
	if errors.As(err, &ae) {
		code := ae.Code
		if code == "" {
			code = "http_" + strconv.Itoa(ae.Status)
		}
		if ae.Status >= 400 && ae.Status < 500 {
			return Fail, code
		}
		return Unknown, code
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Unknown, "timeout"
	case errors.Is(err, context.Canceled):
		return Unknown, "canceled"
	}
	return Unknown, "transport"
}

// set fills an op's outcome fields from err.
func (o *Op) set(err error) {
	o.Outcome, o.Code = classify(err)
	if err != nil {
		o.Err = shorten(err.Error(), 200)
	}
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
