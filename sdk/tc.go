package sdk

import (
	"context"
	"net/http"

	"github.com/lockdhq/lockd/sdk/api"
)

// TC cluster calls: leader election, membership and the resource-manager
// (RM) registry of the transaction coordinator. Nodes make these calls to
// each other; operators use them through `lockd tc`. All need a TC
// identity under mTLS (see TxnDecide).

// TCLeader returns the TC leader the node knows of, its term and the
// expiry of its lease (GET /v1/tc/leader).
func (c *Client) TCLeader(ctx context.Context) (*api.TCLeaderResponse, error) {
	var out api.TCLeaderResponse
	if err := c.tcCall(ctx, http.MethodGet, "/v1/tc/leader", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCLeaseAcquire asks the node to grant the TC leader lease to
// req.CandidateID (POST /v1/tc/lease/acquire). Granted is false when
// another leader holds a live lease; the answer names it. CandidateID and
// CandidateEndpoint are required (400 missing_candidate_id).
func (c *Client) TCLeaseAcquire(ctx context.Context, req api.TCLeaseAcquireRequest) (*api.TCLeaseAcquireResponse, error) {
	var out api.TCLeaseAcquireResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/lease/acquire", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCLeaseRenew renews the leader lease of req.LeaderID for req.Term (POST
// /v1/tc/lease/renew). Renewed is false when the node knows another
// leader or term. LeaderID is required (400 missing_leader_id).
func (c *Client) TCLeaseRenew(ctx context.Context, req api.TCLeaseRenewRequest) (*api.TCLeaseRenewResponse, error) {
	var out api.TCLeaseRenewResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/lease/renew", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCLeaseRelease gives up the leader lease of req.LeaderID for req.Term
// (POST /v1/tc/lease/release). Released is false when that leader and
// term do not hold it. LeaderID is required (400 missing_leader_id).
func (c *Client) TCLeaseRelease(ctx context.Context, req api.TCLeaseReleaseRequest) (*api.TCLeaseReleaseResponse, error) {
	var out api.TCLeaseReleaseResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/lease/release", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCClusterAnnounce records (or refreshes) req.SelfEndpoint's TC
// membership lease and returns the live members (POST
// /v1/tc/cluster/announce). SelfEndpoint must be an http(s) URL (400
// missing_self_endpoint, invalid_self_endpoint).
func (c *Client) TCClusterAnnounce(ctx context.Context, req api.TCClusterAnnounceRequest) (*api.TCClusterAnnounceResponse, error) {
	var out api.TCClusterAnnounceResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/cluster/announce", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCClusterLeave removes a member's TC membership lease and returns the
// remaining members (POST /v1/tc/cluster/leave). lockd v0.9 names the
// member by its certificate; this server also takes req.SelfEndpoint and
// needs it today (400 missing_self_endpoint without it).
func (c *Client) TCClusterLeave(ctx context.Context, req api.TCClusterLeaveRequest) (*api.TCClusterLeaveResponse, error) {
	var out api.TCClusterLeaveResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/cluster/leave", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCClusterList returns the live TC members (GET /v1/tc/cluster/list).
func (c *Client) TCClusterList(ctx context.Context) (*api.TCClusterListResponse, error) {
	var out api.TCClusterListResponse
	if err := c.tcCall(ctx, http.MethodGet, "/v1/tc/cluster/list", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCRMRegister adds req.Endpoint to the RM endpoints of the backend
// island req.BackendHash (POST /v1/tc/rm/register) and returns the
// island's endpoints. Both fields are required (400 missing_backend_hash,
// missing_endpoint; invalid_endpoint for a non-http(s) URL).
func (c *Client) TCRMRegister(ctx context.Context, req api.TCRMRegisterRequest) (*api.TCRMRegisterResponse, error) {
	var out api.TCRMRegisterResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/rm/register", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCRMUnregister removes req.Endpoint from the island req.BackendHash
// (POST /v1/tc/rm/unregister) and returns the island's remaining
// endpoints.
func (c *Client) TCRMUnregister(ctx context.Context, req api.TCRMUnregisterRequest) (*api.TCRMUnregisterResponse, error) {
	var out api.TCRMUnregisterResponse
	if err := c.tcCall(ctx, http.MethodPost, "/v1/tc/rm/unregister", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TCRMList returns the RM registry: every backend island and its
// endpoints (GET /v1/tc/rm/list).
func (c *Client) TCRMList(ctx context.Context) (*api.TCRMListResponse, error) {
	var out api.TCRMListResponse
	if err := c.tcCall(ctx, http.MethodGet, "/v1/tc/rm/list", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// tcCall sends a TC request with an optional JSON body and decodes the
// answer into out.
func (c *Client) tcCall(ctx context.Context, method, path string, body, out any) error {
	r := newCall(method, path)
	if body != nil {
		if err := r.jsonBody(body); err != nil {
			return err
		}
	}
	_, err := c.doJSON(ctx, r, out)
	return err
}
