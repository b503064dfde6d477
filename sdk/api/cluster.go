package api

// Cluster endpoints and headers (new in this server; lockd v0.9 has no
// /v1/cluster/members).
const (
	// HeaderForwardedBy marks a request one node forwarded to the owner of
	// its key or queue; its value is the forwarding node's id. A forwarded
	// request is never forwarded again. Under mTLS it is honoured only from
	// a peer presenting a server certificate.
	HeaderForwardedBy = "X-Lockd-Forwarded-By"
	// HeaderForwardedClient carries the original client's certificate
	// chain (base64 DER, leaf first, comma-separated) on a forwarded
	// request, so the owner authorizes the client, not the forwarder.
	HeaderForwardedClient = "X-Lockd-Forwarded-Client-Cert"
	// HeaderForwardID names one forwarded request (node to node). The
	// owner echoes it on an answer it can take back (a lease or
	// deliveries after a wait); the forwarding node, finding its client
	// gone, then asks the owner to take that answer back
	// (PathClusterAbandon). Honoured like HeaderForwardedBy; never relayed
	// to clients.
	HeaderForwardID = "X-Lockd-Forward-Id"
	// PathClusterAbandon takes back the lease or deliveries a forwarded
	// blocking request was answered with (node to node).
	PathClusterAbandon = "/v1/cluster/abandon"
	// HeaderServedBy names the node that served a request (its id).
	HeaderServedBy = "X-Lockd-Served-By"
	// HeaderWaiters, on a /v1/describe response, is the number of
	// acquirers blocked on the key (a diagnostic of this server).
	HeaderWaiters = "X-Lockd-Waiters"
)

// Cluster error codes (503, with Retry-After).
const (
	// CodeNodeUnavailable: the node that owns the key or queue could not
	// be reached; retry (another endpoint, or after membership notices).
	CodeNodeUnavailable = "node_unavailable"
	// CodeNotOwner: a forwarded request reached a node that does not own
	// the key either (membership is changing); retry.
	CodeNotOwner = "not_owner"
	// CodeOwnershipMoved: the key or queue moved to another node while the
	// request waited (a blocked acquire or dequeue); retry.
	CodeOwnershipMoved = "ownership_moved"
)

// ClusterMember is one node of GET /v1/cluster/members.
type ClusterMember struct {
	ID       string   `json:"id"`
	Endpoint string   `json:"endpoint"`
	Gossip   string   `json:"gossip,omitempty"`
	State    string   `json:"state"`
	Version  string   `json:"version,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Self     bool     `json:"self"`
}

// ClusterMembersResponse is GET /v1/cluster/members: every node this one
// knows of, departed ones included, sorted by id. Clustering off: only
// this node, with clustered false.
type ClusterMembersResponse struct {
	Clustered bool            `json:"clustered"`
	Ready     bool            `json:"ready"`
	Members   []ClusterMember `json:"members"`
}
