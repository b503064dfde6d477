package edge

import (
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// Taking back what a forwarded request was granted after its client left.
// A blocked acquire or long-poll dequeue that another node forwarded here
// is watched through that node's connection: when its client leaves, the
// forwarding node closes the connection and the waiter is withdrawn. But a
// client that leaves just as the lease is granted is seen leaving by the
// forwarding node only, after this node answered through a connection
// that was still open. So this node keeps, for a short while, the way to
// take back each such answer (actors.Blocking.Delivered), by the
// request's forward id, and the forwarding node asks for it
// (PathClusterAbandon) when it finds its client gone: the lease is
// released and the deliveries handed back rather than held for their TTL
// or visibility timeout.

// lateAbandonFor is how long an answer to a forwarded request can still
// be taken back: the forwarding node asks as soon as the answer's head
// reached it. lateAbandonMax bounds how many are kept (each holds its
// reply): beyond it an answer cannot be taken back, and a client that
// left keeps it until its lease or visibility timeout ends, as before.
const (
	lateAbandonFor = 5 * time.Second
	lateAbandonMax = 4096
)

// lateAbandons holds the take-backs of recent answers to forwarded
// blocking requests, by forward id.
type lateAbandons struct {
	mu sync.Mutex
	m  map[string]lateAbandon
}

type lateAbandon struct {
	abandon func()
	until   time.Time
}

// put keeps abandon for id (expired ones are dropped when the table is
// full) and reports whether it did.
func (l *lateAbandons) put(id string, abandon func()) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]lateAbandon{}
	}
	if len(l.m) >= lateAbandonMax {
		for k, e := range l.m {
			if now.After(e.until) {
				delete(l.m, k)
			}
		}
		if len(l.m) >= lateAbandonMax {
			return false
		}
	}
	l.m[id] = lateAbandon{abandon: abandon, until: now.Add(lateAbandonFor)}
	return true
}

// take returns and forgets the take-back of id; nil when there is none.
func (l *lateAbandons) take(id string) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[id]
	if !ok {
		return nil
	}
	delete(l.m, id)
	if time.Now().After(e.until) {
		return nil
	}
	return e.abandon
}

// delivered returns the Delivered hook of a blocking request: for a
// request forwarded here (with a forward id) it keeps the take-back of
// the answer and says so in the response (HeaderForwardID, which the
// forwarding node does not relay), so that the forwarding node looks at
// its client once more before relaying; nil otherwise. The hook runs on
// the handler's goroutine (actors.Caller.Await).
func (c *call) delivered() func(abandon func()) {
	if !c.forwarded {
		return nil
	}
	id := string(c.Request.Header.Peek(api.HeaderForwardID))
	if id == "" {
		return nil
	}
	return func(abandon func()) {
		if c.srv.late.put(id, abandon) {
			c.Response.Header.Set(api.HeaderForwardID, id)
		}
	}
}

// clusterAbandonRequest is the body of PathClusterAbandon.
type clusterAbandonRequest struct {
	ForwardID string `json:"forward_id"`
}

// clusterAbandon serves PathClusterAbandon: it takes back what the
// forwarded request named was answered with, if this node still can; an
// unknown or expired id is not an error (nothing to take back).
func (s *Server) clusterAbandon(c *call) error {
	var req clusterAbandonRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	if req.ForwardID == "" {
		return fail(400, api.CodeMissingFields, "forward_id is required")
	}
	if abandon := s.late.take(req.ForwardID); abandon != nil {
		go abandon()
	}
	writeJSON(c.RequestCtx, 200, struct{}{})
	return nil
}
