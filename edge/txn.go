package edge

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/rs/xid"

	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/txn"
)

func (s *Server) txnRoutes(add addFunc) {
	add("/v1/txn/decide", "txn.decide", "", s.txnDecide)
	add("/v1/txn/commit", "txn.commit", "", s.txnApply(txn.Commit))
	add("/v1/txn/rollback", "txn.rollback", "", s.txnApply(txn.Rollback))
	add("/v1/txn/replay", "txn.replay", "", s.txnReplay)
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
}

// decodeLenient decodes an optional JSON body, allowing unknown fields (the
// TC endpoints are lenient in lockd v0.9).
func (c *call) decodeLenient(v any) error {
	body, err := c.readBody(maxControlBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest(api.CodeInvalidBody, "failed to parse request: "+err.Error())
	}
	return nil
}

// decision reads a TxnDecisionRequest with txn_id and state from body or
// query.
func (c *call) decision(state txn.State) (txn.DecideRequest, error) {
	var req api.TxnDecisionRequest
	if err := c.decodeLenient(&req); err != nil {
		return txn.DecideRequest{}, err
	}
	id, err := txnID(first(req.TxnID, c.query("txn_id")))
	if err != nil {
		return txn.DecideRequest{}, err
	}
	if state == "" {
		state = txn.State(strings.ToLower(first(req.State, c.query("state"))))
	}
	if req.TCTerm < 0 {
		return txn.DecideRequest{}, badRequest(api.CodeInvalidBody, "tc_term must not be negative")
	}
	out := txn.DecideRequest{TxnID: id, State: state, Term: uint64(req.TCTerm), ExpiresAt: req.ExpiresAtUnix}
	for _, p := range req.Participants {
		// Unlike other requests, a participant names its namespace.
		if strings.TrimSpace(p.Namespace) == "" {
			return txn.DecideRequest{}, badRequest(api.CodeInvalidNamespace, "participant namespace required")
		}
		if p.BackendHash != "" && strings.TrimSpace(p.BackendHash) == "" {
			return txn.DecideRequest{}, badRequest(api.CodeInvalidBackendHash, "participant backend_hash is blank")
		}
		ref, err := c.ref(p.Namespace, p.Key, api.CodeInvalidKey)
		if err != nil {
			return txn.DecideRequest{}, err
		}
		out.Participants = append(out.Participants, txn.Participant{Namespace: ref.Namespace, Key: ref.Key})
	}
	return out, nil
}

// txnID checks a required transaction id: present and an xid.
func txnID(id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", badRequest(api.CodeMissingTxnID, "txn_id required")
	}
	if _, err := xid.FromString(id); err != nil {
		return "", badRequest(api.CodeInvalidTxnID, "txn_id must be a valid xid")
	}
	return id, nil
}

func (s *Server) txnDecide(c *call) error {
	req, err := c.decision("")
	if err != nil {
		return err
	}
	st, err := s.txns.Decide(c.ctx, req)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TxnDecisionResponse{TxnID: req.TxnID, State: string(st)})
	return nil
}

func (s *Server) txnApply(state txn.State) handler {
	return func(c *call) error {
		req, err := c.decision(state)
		if err != nil {
			return err
		}
		st, err := s.txns.ApplyDecision(c.ctx, req)
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 200, api.TxnDecisionResponse{TxnID: req.TxnID, State: string(st)})
		return nil
	}
}

func (s *Server) txnReplay(c *call) error {
	var req api.TxnReplayRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	id, err := txnID(first(req.TxnID, c.query("txn_id")))
	if err != nil {
		return err
	}
	st, err := s.txns.Replay(c.ctx, id)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TxnReplayResponse{TxnID: id, State: string(st)})
	return nil
}

func (s *Server) tcLeader(c *call) error {
	l := s.txns.Leader()
	writeJSON(c.RequestCtx, 200, api.TCLeaderResponse{LeaderID: l.ID, LeaderEndpoint: l.Endpoint,
		Term: int64(l.Term), ExpiresAt: l.ExpiresAt.Unix()})
	return nil
}

func (s *Server) tcLeaseAcquire(c *call) error {
	var req api.TCLeaseAcquireRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	granted, l, err := s.txns.LeaseAcquire(req.CandidateID, req.CandidateEndpoint)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCLeaseAcquireResponse{Granted: granted, LeaderID: l.ID,
		LeaderEndpoint: l.Endpoint, Term: int64(l.Term), ExpiresAt: l.ExpiresAt.Unix()})
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
	ok, l := s.txns.LeaseRenew(req.LeaderID, uint64(req.Term))
	writeJSON(c.RequestCtx, 200, api.TCLeaseRenewResponse{Renewed: ok, LeaderID: l.ID,
		LeaderEndpoint: l.Endpoint, Term: int64(l.Term), ExpiresAt: l.ExpiresAt.Unix()})
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
	ok, err := s.txns.LeaseRelease(c.ctx, req.LeaderID, uint64(req.Term))
	if err != nil {
		return err
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
	eps, exp, err := s.txns.Announce(c.ctx, c.identity(req.SelfEndpoint), req.SelfEndpoint)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCClusterAnnounceResponse{Endpoints: eps, ExpiresAtUnix: exp.Unix(),
		UpdatedAtUnix: exp.Unix()})
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
	eps, err := s.txns.Leave(c.ctx, c.identity(req.SelfEndpoint))
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCClusterLeaveResponse{Endpoints: eps})
	return nil
}

func (s *Server) tcList(c *call) error {
	eps, err := s.txns.Members(c.ctx)
	if err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TCClusterListResponse{Endpoints: eps})
	return nil
}

// selfEndpoint checks the endpoint a TC member announces.
func selfEndpoint(ep string) error {
	if strings.TrimSpace(ep) == "" {
		return badRequest(api.CodeMissingSelfEndpoint, "self_endpoint required")
	}
	if !validEndpoint(ep) {
		return badRequest(api.CodeInvalidSelfEndpoint, "self_endpoint must be an http(s) URL")
	}
	return nil
}

// validEndpoint reports an absolute http(s) URL with a host.
func validEndpoint(ep string) bool {
	u, err := url.Parse(strings.TrimSpace(ep))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// identity names the caller for cluster membership: its client
// certificate once mTLS is on, else the endpoint it announces.
func (c *call) identity(fallback string) string {
	if id := c.query("identity"); id != "" {
		return id
	}
	return fallback
}

func (s *Server) tcRMEdit(add bool) handler {
	return func(c *call) error {
		var req api.TCRMRegisterRequest
		if err := c.decodeLenient(&req); err != nil {
			return err
		}
		// missing_backend_hash comes first (txn.Service checks it).
		if strings.TrimSpace(req.BackendHash) != "" && req.Endpoint != "" && !validEndpoint(req.Endpoint) {
			return badRequest(api.CodeInvalidEndpoint, "endpoint must be an http(s) URL")
		}
		edit := s.txns.UnregisterRM
		if add {
			edit = s.txns.RegisterRM
		}
		b, err := edit(c.ctx, req.BackendHash, req.Endpoint)
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 200, api.TCRMRegisterResponse{BackendHash: b.Hash, Endpoints: b.Endpoints, UpdatedAtUnix: b.Updated})
		return nil
	}
}

func (s *Server) tcRMList(c *call) error {
	bs, err := s.txns.RMs(c.ctx)
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
