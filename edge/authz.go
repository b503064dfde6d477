package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk/api"
)

// Authorization under mTLS. Each route has a policy (below): the access a
// request needs on every namespace it names, or a TC identity. Namespaces
// are checked where the edge resolves them (call.namespace, used by every
// handler through ref/queueRef), so a request is authorized for exactly
// the namespaces it acts on; routes whose handlers resolve namespaces
// elsewhere are checked up front (prefetch). A route missing from the
// table needs the ALL=rw claim: new routes fail closed.

// policy is a route's authorization rule.
type policy struct {
	open     bool // health probes: the handshake is enough
	tc       bool // TC or server identity required
	server   bool // a server identity required (RM registration, node to node)
	access   tlsutil.Access
	byMethod map[string]tlsutil.Access // overrides access per method
	prefetch bool                      // check the query and body namespace before the handler
	all      bool                      // the ALL claim is required
}

var (
	readPolicy      = policy{access: tlsutil.AccessRead}
	writePolicy     = policy{access: tlsutil.AccessWrite}
	readWritePolicy = policy{access: tlsutil.AccessReadWrite}
	tcPolicy        = policy{tc: true, access: tlsutil.AccessReadWrite}
	serverPolicy    = policy{tc: true, server: true, access: tlsutil.AccessReadWrite}
)

// policies is the authorization table, by path.
var policies = map[string]policy{
	"/healthz": {open: true},
	"/readyz":  {open: true},
	// Any verified certificate may list the members (seeds given as API
	// URLs are resolved through it).
	"/v1/cluster/members": {open: true},
	// Node to node: one node's index flush (the caller authorized its
	// client).
	"/v1/cluster/flush": tcPolicy,
	// Node to node (and island to island): the TC asks whether
	// participants can commit, and for the key that minted a transaction.
	"/v1/cluster/txn/prepare": serverPolicy,
	"/v1/cluster/txn/origin":  serverPolicy,
	// Node to node: a forwarding node whose client left gives back what
	// the forwarded request was granted.
	api.PathClusterAbandon: serverPolicy,
	// Node to node: a multiplexed connection for forwarded requests.
	muxPath: serverPolicy,

	"/v1/acquire":   {access: tlsutil.AccessAny},
	"/v1/keepalive": {access: tlsutil.AccessAny},
	"/v1/release":   {access: tlsutil.AccessAny},
	"/v1/describe":  readPolicy,
	"/v1/get":       readPolicy,
	"/v1/update":    writePolicy,
	"/v1/remove":    writePolicy,
	"/v1/metadata":  writePolicy,
	"/v1/mutate":    writePolicy,

	"/v1/attachments": {byMethod: map[string]tlsutil.Access{"GET": tlsutil.AccessRead}, access: tlsutil.AccessWrite},
	"/v1/attachment":  {byMethod: map[string]tlsutil.Access{"GET": tlsutil.AccessRead}, access: tlsutil.AccessWrite},

	"/v1/query":       {access: tlsutil.AccessRead, prefetch: true},
	"/v1/index/flush": {access: tlsutil.AccessRead, prefetch: true},
	"/v1/namespace":   {byMethod: map[string]tlsutil.Access{"GET": tlsutil.AccessRead}, access: tlsutil.AccessReadWrite, prefetch: true},

	"/v1/queue/enqueue":            writePolicy,
	"/v1/queue/dequeue":            readWritePolicy,
	"/v1/queue/dequeueWithState":   readWritePolicy,
	"/v1/queue/subscribe":          readWritePolicy,
	"/v1/queue/subscribeWithState": readWritePolicy,
	"/v1/queue/unsubscribe":        readWritePolicy,
	"/v1/queue/ack":                readWritePolicy,
	"/v1/queue/nack":               readWritePolicy,
	"/v1/queue/extend":             readWritePolicy,
	"/v1/queue/stats":              readPolicy,
	"/v1/queue/watch":              readPolicy,
	"/v1/queue/dlq/list":           readPolicy,
	"/v1/queue/dlq/requeue":        readWritePolicy,

	"/v1/txn/decide":          tcPolicy,
	"/v1/txn/commit":          tcPolicy,
	"/v1/txn/rollback":        tcPolicy,
	"/v1/txn/replay":          {tc: true, access: tlsutil.AccessReadWrite, all: true},
	"/v1/tc/leader":           tcPolicy,
	"/v1/tc/lease/acquire":    tcPolicy,
	"/v1/tc/lease/renew":      tcPolicy,
	"/v1/tc/lease/release":    tcPolicy,
	"/v1/tc/cluster/announce": tcPolicy,
	"/v1/tc/cluster/leave":    tcPolicy,
	"/v1/tc/cluster/list":     tcPolicy,
	"/v1/tc/rm/register":      serverPolicy,
	"/v1/tc/rm/unregister":    serverPolicy,
	"/v1/tc/rm/list":          tcPolicy,
}

// policyFor returns the policy of path; unknown paths need ALL=rw.
func policyFor(path string) policy {
	if p, ok := policies[path]; ok {
		return p
	}
	return policy{access: tlsutil.AccessReadWrite, all: true}
}

// authState is a request's authorization context under mTLS; nil when
// mTLS is off.
type authState struct {
	peer   *peer
	access tlsutil.Access
	// body is the request body read ahead by a prefetch policy; readBody
	// returns it.
	body    []byte
	hasBody bool
}

// authorize runs when mTLS is on, before the handler: revocation, TC
// identity and the up-front namespace checks of rt's policy.
func (c *call) authorize(p policy) error {
	c.auth = &authState{peer: c.peer(), access: p.access}
	if a, ok := p.byMethod[string(c.Method())]; ok {
		c.auth.access = a
	}
	pr := c.auth.peer
	if pr != nil && c.srv.cfg.TLS.Denylist.RevokedSerial(pr.serial) {
		c.SetConnectionClose()
		return fail(403, api.CodeCertificateRevoked, "client certificate "+pr.serial+" has been revoked")
	}
	if pr != nil && c.Time().After(pr.leaf.NotAfter) {
		// The handshake checked validity; a kept-alive connection can
		// outlive its certificate.
		c.SetConnectionClose()
		return fail(403, api.CodeCertificateExpired, "client certificate expired at "+pr.leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	switch {
	case p.open:
		return nil
	case p.tc && pr == nil:
		return fail(403, api.CodeTCClientRequired, "client certificate required for transaction coordinator operations")
	case p.tc && pr.role != tlsutil.RoleTC && pr.role != tlsutil.RoleServer:
		return fail(403, api.CodeTCForbidden, "client certificate is not a TC or server identity (spiffe://lockd/tc/… or spiffe://lockd/server/…)")
	case p.server && pr.role != tlsutil.RoleServer:
		return fail(403, api.CodeTCForbidden, "a server certificate (spiffe://lockd/server/…) is required")
	case p.all:
		return c.authorizeAll()
	case p.prefetch:
		return c.authorizePrefetch()
	}
	return nil
}

// peer returns the identity a request is authorized as: the connection's
// verified identity, or on a request another node forwarded (trusted only
// from a server certificate, see trustForward) its original client's.
func (c *call) peer() *peer {
	if c.forwarded && c.fwdPeer != nil {
		return c.fwdPeer
	}
	// A request a node sends on its own behalf (an index flush) carries
	// no client: it acts as that node.
	return c.connPeer()
}

// connPeer returns the connection's verified identity, or nil.
func (c *call) connPeer() *peer {
	switch cn := c.Conn().(type) {
	case *peerConn:
		return cn.peer
	case *muxStream:
		return cn.ms.peer
	}
	if cs := c.TLSConnectionState(); cs != nil {
		return newPeer(*cs)
	}
	return nil
}

// claims returns the caller's namespace claims or the 403 that explains
// why there are none.
func (c *call) claims() (tlsutil.Claims, error) {
	pr := c.auth.peer
	switch {
	case pr == nil:
		return tlsutil.Claims{}, fail(403, api.CodeNamespaceForbidden, "client certificate required for namespace authorization")
	case pr.claimsErr != nil:
		return tlsutil.Claims{}, fail(403, api.CodeInvalidNamespaceClaims, pr.claimsErr.Error())
	case pr.spiffe == "":
		return tlsutil.Claims{}, fail(403, api.CodeNamespaceForbidden, "certificate missing SPIFFE URI SAN")
	case pr.claims.Empty():
		return tlsutil.Claims{}, fail(403, api.CodeNamespaceForbidden, "certificate has no namespace claims")
	}
	return pr.claims, nil
}

// authorizeNamespace checks the caller's claims on the resolved namespace
// ns; a no-op when mTLS is off.
func (c *call) authorizeNamespace(ns string) error {
	if c.auth == nil {
		return nil
	}
	cl, err := c.claims()
	if err != nil {
		return err
	}
	if !cl.Allows(ns, c.auth.access) {
		return fail(403, api.CodeNamespaceForbidden,
			fmt.Sprintf("certificate does not grant %s access to namespace %q", c.auth.access, ns))
	}
	return nil
}

func (c *call) authorizeAll() error {
	cl, err := c.claims()
	if err != nil {
		return err
	}
	if !cl.AllowsAll(c.auth.access) {
		return fail(403, api.CodeNamespaceForbidden,
			fmt.Sprintf("operation requires the ALL namespace claim with %s access", c.auth.access))
	}
	return nil
}

// authorizePrefetch checks every namespace the request could act on: the
// query parameter and the JSON body field, or the default namespace when
// neither is given. Values that do not resolve are left to the handler's
// validation (400).
func (c *call) authorizePrefetch() error {
	var cands []string
	if q := c.query("namespace"); q != "" {
		cands = append(cands, q)
	}
	if c.IsPost() {
		body, err := c.readBody(c.srv.cfg.JSONMax)
		if err != nil {
			return err
		}
		c.auth.body, c.auth.hasBody = body, true
		var b struct {
			Namespace string `json:"namespace"`
		}
		if len(bytes.TrimSpace(body)) > 0 && json.Unmarshal(body, &b) == nil && strings.TrimSpace(b.Namespace) != "" {
			cands = append(cands, b.Namespace)
		}
	}
	if len(cands) == 0 {
		cands = append(cands, "")
	}
	for _, raw := range cands {
		ns, err := names.Namespace(raw, c.srv.cfg.DefaultNamespace)
		if err != nil {
			continue
		}
		if err := c.authorizeNamespace(ns); err != nil {
			return err
		}
	}
	return nil
}

// prefetched returns the body read by authorizePrefetch, if any.
func (a *authState) prefetched() ([]byte, bool) {
	if a == nil || !a.hasBody {
		return nil, false
	}
	return a.body, true
}
