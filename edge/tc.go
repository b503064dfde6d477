package edge

import (
	"strings"
	"time"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/cluster/tc"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/txn"
)

// TC is the transaction coordinator's cluster state the edge serves: the
// leader lease, the membership leases and the RM registry of this store.
type TC struct {
	Elector  *tc.Elector
	Members  *tc.Members
	Registry *tc.Registry
	// BackendHash names this node's store.
	BackendHash string
}

func (s *Server) tcRoutes(add addFunc) {
	add("/v1/tc/leader", "tc.leader", "", s.tcLeader)
	add("/v1/tc/lease/acquire", "tc.lease.acquire", "", s.tcLeaseAcquire)
	add("/v1/tc/lease/renew", "tc.lease.renew", "", s.tcLeaseRenew)
	add("/v1/tc/lease/release", "tc.lease.release", "", s.tcLeaseRelease)
	add("/v1/tc/cluster/announce", "tc.cluster.announce", "", s.tcAnnounce)
	add("/v1/tc/cluster/leave", "tc.cluster.leave", "", s.tcLeave)
	add("/v1/tc/cluster/list", "tc.cluster.list", "", s.tcList)
	add("/v1/tc/rm/register", "tc.rm.register", "", s.tcRMEdit(true))
	add("/v1/tc/rm/unregister", "tc.rm.unregister", "", s.tcRMEdit(false))
	add("/v1/tc/rm/list", "tc.rm.list", "", s.tcRMList)
	add(clusterTxnPrepare, "cluster.txn.prepare", "", s.clusterTxnPrepare)
	add(clusterTxnOrigin, "cluster.txn.origin", "", s.clusterTxnOrigin)
}

func leaderResponse(l tc.Leader) api.TCLeaderResponse {
	return api.TCLeaderResponse{LeaderID: l.ID, LeaderEndpoint: l.Endpoint, Term: int64(l.Term), ExpiresAt: l.ExpiresMs}
}

func (s *Server) tcLeader(c *call) error {
	l, err := s.tc.Elector.Current(c.ctx)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, leaderResponse(l))
	return nil
}

func (s *Server) tcLeaseAcquire(c *call) error {
	var req api.TCLeaseAcquireRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	if req.CandidateID == "" || req.CandidateEndpoint == "" {
		return txn.ErrMissingCandidate
	}
	granted, l, err := s.tc.Elector.Acquire(c.ctx, req.CandidateID, req.CandidateEndpoint, time.Duration(req.TTLMs)*time.Millisecond)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCLeaseAcquireResponse{Granted: granted, LeaderID: l.ID,
		LeaderEndpoint: l.Endpoint, Term: int64(l.Term), ExpiresAt: l.ExpiresMs})
	return nil
}

func (s *Server) tcLeaseRenew(c *call) error {
	var req api.TCLeaseRenewRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	if req.LeaderID == "" {
		return badRequest(api.CodeMissingLeaderID, "leader_id required")
	}
	ok, l, err := s.tc.Elector.Renew(c.ctx, req.LeaderID, uint64(max(req.Term, 0)), time.Duration(req.TTLMs)*time.Millisecond)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCLeaseRenewResponse{Renewed: ok, LeaderID: l.ID,
		LeaderEndpoint: l.Endpoint, Term: int64(l.Term), ExpiresAt: l.ExpiresMs})
	return nil
}

func (s *Server) tcLeaseRelease(c *call) error {
	var req api.TCLeaseReleaseRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	if req.LeaderID == "" {
		return badRequest(api.CodeMissingLeaderID, "leader_id required")
	}
	ok, err := s.tc.Elector.Release(c.ctx, req.LeaderID, uint64(max(req.Term, 0)))
	if err != nil {
		return err
	}
	if ok && s.cluster == nil {
		// Alone on the store: this node is the only candidate, and leads
		// the next term at once.
		if _, err := s.tc.Elector.Step(c.ctx); err != nil {
			return err
		}
	}
	writeJSON(c.RequestCtx, 200, api.TCLeaseReleaseResponse{Released: ok})
	return nil
}

func (s *Server) tcAnnounce(c *call) error {
	var req api.TCClusterAnnounceRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	if err := selfEndpoint(req.SelfEndpoint); err != nil {
		return err
	}
	eps, exp, err := s.tc.Members.Announce(c.ctx, c.identity(req.SelfEndpoint), req.SelfEndpoint)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCClusterAnnounceResponse{Endpoints: eps, ExpiresAtUnix: exp.Unix(),
		UpdatedAtUnix: time.Now().Unix()})
	return nil
}

func (s *Server) tcLeave(c *call) error {
	var req struct {
		SelfEndpoint string `json:"self_endpoint"`
	}
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	if err := selfEndpoint(req.SelfEndpoint); err != nil {
		return err
	}
	eps, err := s.tc.Members.Leave(c.ctx, c.identity(req.SelfEndpoint))
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCClusterLeaveResponse{Endpoints: eps, UpdatedAtUnix: time.Now().Unix()})
	return nil
}

func (s *Server) tcList(c *call) error {
	eps, at, err := s.tc.Members.List(c.ctx)
	if err != nil {
		return err
	}
	out := api.TCClusterListResponse{Endpoints: eps}
	if !at.IsZero() {
		out.UpdatedAtUnix = at.Unix()
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

func (s *Server) tcRMEdit(add bool) handler {
	return func(c *call) error {
		var req api.TCRMRegisterRequest
		if err := c.decodeLenient(&req); err != nil {
			return err
		}
		if strings.TrimSpace(req.BackendHash) == "" {
			return txn.ErrMissingHash
		}
		if req.Endpoint == "" {
			return txn.ErrMissingEndpoint
		}
		if !validEndpoint(req.Endpoint) {
			return badRequest(api.CodeInvalidEndpoint, "endpoint must be an http(s) URL")
		}
		edit := s.tc.Registry.Unregister
		if add {
			edit = s.tc.Registry.Register
		}
		b, err := edit(c.ctx, req.BackendHash, strings.TrimRight(req.Endpoint, "/"))
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 200, api.TCRMRegisterResponse{BackendHash: b.Hash, Endpoints: b.Endpoints, UpdatedAtUnix: b.Updated})
		return nil
	}
}

func (s *Server) tcRMList(c *call) error {
	bs, err := s.tc.Registry.List(c.ctx)
	if err != nil {
		return err
	}
	out := api.TCRMListResponse{Backends: []api.TCRMBackend{}}
	for _, b := range bs {
		out.Backends = append(out.Backends, api.TCRMBackend{BackendHash: b.Hash, Endpoints: b.Endpoints, UpdatedAtUnix: b.Updated})
		out.UpdatedAtUnix = max(out.UpdatedAtUnix, b.Updated)
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

// decideAtLeader makes serve forward /v1/txn/decide to the TC leader when
// this node does not lead (a forwarded request is served here: the
// service then asks the leader itself).
func (s *Server) decideAtLeader(c *call) error {
	if s.tc == nil || s.peers == nil || c.forwarded {
		return nil
	}
	if _, ok := s.tc.Elector.Leading(); ok {
		return nil
	}
	l := s.tc.Elector.Leader()
	if l.Endpoint == "" || l.ID == s.tc.Elector.ID() {
		return nil
	}
	return &forwardError{to: cluster.Member{ID: l.ID, Endpoint: l.Endpoint}}
}
