package edge

import (
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// Gate says whether this node serves API requests now (the HA modes of
// cluster/ha). While it does not, every route but /healthz answers 503
// node_passive with Retry-After: 1 and the active node's endpoint as
// leader_endpoint (when known), so that clients retry another endpoint,
// and /readyz answers 503 "passive", so that load balancers route to the
// active node. Serving is called on every request: it must not block.
type Gate interface {
	Serving() bool
	// Leader is the active node's API endpoint, or "".
	Leader() string
}

func passive(g Gate) *httpError {
	return &httpError{status: 503, code: api.CodeNodePassive,
		detail:     "this node is passive (HA failover standby); retry another endpoint",
		retryAfter: time.Second, leader: g.Leader()}
}
