package edge

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
)

// Routing in a cluster. A route that acts on one key or one queue is
// "routed": the first ref its handler resolves (call.ref, call.queueRef)
// asks the cluster who owns it. The owner serves it here; otherwise the
// handler returns a forwardError and serve forwards the whole request,
// once, to the owner (forward.go). Until that decision the request body
// is recorded as the handler reads it (call.RequestBodyStream), so the
// forwarded request carries the bytes already read and then the rest of
// the stream. Routes without a key (server-generated keys, queries,
// namespace configuration, transactions, TC endpoints) are served where
// they arrive.

// routedPaths are the routes that act on exactly one key or queue.
var routedPaths = map[string]bool{
	"/v1/acquire": true, "/v1/keepalive": true, "/v1/release": true, "/v1/describe": true,
	"/v1/get": true, "/v1/update": true, "/v1/remove": true, "/v1/metadata": true, "/v1/mutate": true,
	"/v1/attachments": true, "/v1/attachment": true,
	"/v1/queue/enqueue": true, "/v1/queue/dequeue": true, "/v1/queue/dequeueWithState": true,
	"/v1/queue/subscribe": true, "/v1/queue/subscribeWithState": true, "/v1/queue/unsubscribe": true, "/v1/queue/ack": true,
	"/v1/queue/nack": true, "/v1/queue/extend": true, "/v1/queue/stats": true, "/v1/queue/watch": true,
	"/v1/queue/dlq/list": true, "/v1/queue/dlq/requeue": true,
}

// takeOverWait bounds how long a request for a ref this node owns waits
// while the node takes its refs over after a membership change (usually a
// round of member lists and the hand-off grace) before a retryable 503:
// below the few seconds clients commonly wait for an answer, so that they
// get the 503 and retry rather than time out.
const takeOverWait = cluster.DefaultHandoffGrace + 500*time.Millisecond

// forwardError makes serve forward the request to the owner of its ref.
type forwardError struct{ to cluster.Member }

func (e *forwardError) Error() string { return "edge: owned by node " + e.to.ID }

// route is called with each ref a handler resolves; the first decides
// where a routed request is served.
func (c *call) route(kind cluster.Kind, ns, name string) error {
	if !c.routable {
		return nil
	}
	c.routable = false
	kind, name = OwnerRef(kind, name)
	owner, ok := c.srv.cluster.Owner(kind, ns, name)
	if !ok || owner.Self {
		c.recording = false
		if cl := c.srv.cluster; !cl.Serving() && !cl.AwaitServing(takeOverWait) {
			// Self-fenced (cluster/fence.go): this node cannot tell
			// that the others still see it alive, so they may have
			// taken the ref over; its memory may be stale. Or it is
			// taking its refs over and a peer has not shown yet that
			// it stopped serving them (the hand-off barrier).
			detail := "this node cannot confirm its cluster membership (cut off from its peers?); retry another node"
			switch {
			case cl.Leaving():
				detail = "this node is leaving the cluster; retry another node"
			case cl.Settling():
				detail = "this node is taking over its keys and queues from the other nodes (membership changed); retry"
			}
			he := fail(503, api.CodeNodeUnavailable, detail)
			he.retryAfter = time.Second
			return he
		}
		if d := c.srv.cluster.HandoffWait(kind, ns, name); d > 0 {
			// Its previous owner left gracefully a moment ago and may
			// still be answering what it had in flight, or was declared
			// dead a moment ago and may not have fenced itself yet.
			if d > takeOverWait {
				he := fail(503, api.CodeNodeUnavailable, "the node that owned "+ns+"/"+name+" left or was declared dead a moment ago and may still be serving it; retry")
				he.retryAfter = time.Second
				return he
			}
			time.Sleep(d)
		}
		return nil
	}
	if c.forwarded {
		// Membership views differ for a moment (a join or a death not yet
		// gossiped everywhere). Serving here could run a second actor for
		// the key beside the owner's; the client retries instead.
		he := fail(503, api.CodeNotOwner, "this node does not own "+ns+"/"+name+" either (membership is changing); retry")
		he.retryAfter = time.Second
		return he
	}
	return &forwardError{to: owner}
}

// OwnerRef is the ref whose owner serves (kind, name) in a namespace: a
// queue message's state key is served by its queue's node (which leases
// it), every other key and queue by its own owner. The server's handoff
// uses it too, so routing and ownership agree.
func OwnerRef(kind cluster.Kind, name string) (cluster.Kind, string) {
	if kind == cluster.KindKey {
		if q, ok := queues.StateQueue(name); ok {
			return cluster.KindQueue, q
		}
	}
	return kind, name
}

// RequestBodyStream shadows fasthttp's: while the route is undecided it
// records what the handler reads, for a forward. The stream is the
// deadline-aware one (deadline.go).
func (c *call) RequestBodyStream() io.Reader {
	r := c.timedBodyStream()
	if r == nil || !c.recording {
		return r
	}
	if c.rec == nil {
		c.rec = &recorder{r: r, c: c}
	}
	return c.rec
}

// recorder keeps the bytes read from the request body while the call is
// recording.
type recorder struct {
	r   io.Reader
	c   *call
	buf []byte
}

// bufOrNil is what the handler read, or nil without a recorder.
func (r *recorder) bufOrNil() []byte {
	if r == nil {
		return nil
	}
	return r.buf
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if r.c.recording {
		r.buf = append(r.buf, p[:n]...)
	}
	return n, err
}

// ownedKey returns a fresh key (a UUIDv7, as v0.9 makes them) that this
// node owns, so a server-generated key is served where it was made.
func (s *Server) ownedKey(ns string, fresh func() string) string {
	key := fresh()
	if s.cluster == nil {
		return key
	}
	for i := 0; i < 256 && !s.cluster.Owns(cluster.KindKey, ns, key); i++ {
		key = fresh()
	}
	return key
}

// trustForward decides whether the request's forwarding marker is
// honoured: from anyone without mTLS (there is no identity to protect),
// under mTLS only from a peer presenting a server certificate.
func (c *call) trustForward() bool {
	if len(c.Request.Header.Peek(api.HeaderForwardedBy)) == 0 {
		return false
	}
	if c.srv.cfg.TLS == nil {
		return true
	}
	p := c.connPeer()
	return p != nil && p.role == tlsutil.RoleServer
}

// errForwardedIdentity is a forwarded request whose client certificate
// cannot be used.
var errForwardedIdentity = errors.New("edge: forwarded client certificate")

// forwardedPeer returns the original client of a forwarded request, from
// its certificate chain header, verified against the server bundle's CAs
// and cached by the header's value.
func (s *Server) forwardedPeer(hdr string) (*peer, error) {
	if hdr == "" {
		return nil, nil
	}
	if v, ok := s.fwdPeers.Load(hdr); ok {
		return v.(*peer), nil
	}
	chain, err := decodeChain(hdr)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, errors.Join(errForwardedIdentity, errors.New("empty chain"))
	}
	if s.cfg.TLS.VerifyClient == nil {
		return nil, errors.Join(errForwardedIdentity, errors.New("no verifier configured"))
	}
	if err := s.cfg.TLS.VerifyClient(chain); err != nil {
		return nil, errors.Join(errForwardedIdentity, err)
	}
	p := peerOf(chain)
	p.chainHdr = hdr
	if s.fwdPeerCount.Add(1) > maxForwardedPeers {
		s.fwdPeers.Clear()
		s.fwdPeerCount.Store(1)
	}
	s.fwdPeers.Store(hdr, p)
	return p, nil
}

// maxForwardedPeers bounds the cache of verified forwarded identities.
const maxForwardedPeers = 4096

// clusterState is the edge's part of clustering: the membership and the
// connections to the other nodes.
type clusterState struct {
	cluster      *cluster.Cluster
	peers        *peers
	fwdPeers     sync.Map // header value -> *peer
	fwdPeerCount atomic.Int64
	late         lateAbandons
	muxes        muxServers // multiplexed connections from other nodes (mux_serve.go)
	peerSeqs     peerSeqs   // the other nodes' index sequences (cluster_indexseq.go)
}

func (s *Server) clusterMembers(c *call) error {
	out := api.ClusterMembersResponse{Ready: s.ready(), Members: []api.ClusterMember{}}
	if s.cluster == nil {
		out.Members = append(out.Members, api.ClusterMember{State: string(cluster.StateAlive), Self: true})
		writeJSON(c.RequestCtx, 200, out)
		return nil
	}
	out.Clustered = true
	for _, m := range s.cluster.Members() {
		out.Members = append(out.Members, api.ClusterMember{ID: m.ID, Endpoint: m.Endpoint, Gossip: m.Gossip,
			State: string(m.State), Version: m.Version, Roles: m.Roles, Self: m.Self})
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

// ready reports whether this node should receive traffic: not draining,
// joined when it was given seeds, and not self-fenced.
func (s *Server) ready() bool {
	return !s.draining.Load() && (s.cluster == nil || s.cluster.Ready() && s.cluster.Serving())
}

func decodeChain(hdr string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, part := range strings.Split(hdr, ",") {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(part))
		if err != nil {
			return nil, errors.Join(errForwardedIdentity, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.Join(errForwardedIdentity, err)
		}
		out = append(out, cert)
	}
	return out, nil
}

// encodeChain is the header value that carries chain.
func encodeChain(chain []*x509.Certificate) string {
	parts := make([]string, len(chain))
	for i, c := range chain {
		parts[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return strings.Join(parts, ",")
}
