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
	s.tcRoutes(add)
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
	var req txnDecisionRequest
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
	out := txn.DecideRequest{TxnID: id, State: state, Term: uint64(req.TCTerm), ExpiresAt: req.ExpiresAtUnix,
		Target: req.TargetBackendHash, From: string(c.Request.Header.Peek(headerTCBackend)),
		RelayFor: string(c.Request.Header.Peek(headerTCRelayFor))}
	for _, p := range req.Participants {
		// Unlike other requests, a participant names its namespace.
		if strings.TrimSpace(p.Namespace) == "" {
			return txn.DecideRequest{}, badRequest(api.CodeInvalidNamespace, "participant namespace required")
		}
		if p.BackendHash != "" && strings.TrimSpace(p.BackendHash) == "" {
			return txn.DecideRequest{}, badRequest(api.CodeInvalidBackendHash, "participant backend_hash is blank")
		}
		tp, err := c.participant(p)
		if err != nil {
			return txn.DecideRequest{}, err
		}
		out.Participants = append(out.Participants, tp)
	}
	return out, nil
}

// headerTCBackend carries, on a decision the TC sends to a resource
// manager, the backend hash of the TC's store: an RM of another island
// keeps that TC's terms apart from its own cluster's.
const headerTCBackend = "X-Lockd-TC-Backend"

// headerTCRelayFor carries, on a prepare or decision that a node relays
// to a participant's owner in its own cluster, the backend hash of the
// other island's TC it came from ("*" for an operator's tool): the owner
// then knows who decides (a participant prepared by another island's TC
// follows only that TC's decision).
const headerTCRelayFor = "X-Lockd-TC-Relay-For"

// txnParticipant is a wire participant plus what lockd's own nodes add
// for a queue message participant (lenient decoding lets v0.9 clients
// omit them).
type txnParticipant struct {
	api.TxnParticipant
	Kind      string `json:"kind,omitempty"`
	Queue     string `json:"queue,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	LeaseID   string `json:"lease_id,omitempty"`
	Fencing   uint64 `json:"fencing,omitempty"`
	MetaETag  string `json:"meta_etag,omitempty"`
}

// txnDecisionRequest is api.TxnDecisionRequest with txnParticipants.
type txnDecisionRequest struct {
	api.TxnDecisionRequest
	Participants []txnParticipant `json:"participants,omitempty"`
}

// participant validates one participant.
func (c *call) participant(p txnParticipant) (txn.Participant, error) {
	out := txn.Participant{Kind: p.Kind, BackendHash: p.BackendHash, Queue: p.Queue, MessageID: p.MessageID,
		LeaseID: p.LeaseID, Fencing: p.Fencing, MetaETag: p.MetaETag}
	if p.Kind == txn.KindMessage {
		ns, err := c.srv.resolveNamespace(p.Namespace)
		if err != nil {
			return out, err
		}
		if p.Queue == "" || p.MessageID == "" {
			return out, badRequest(api.CodeInvalidParticipant, "message participant needs queue and message_id")
		}
		out.Namespace = ns
		return out, nil
	}
	ref, err := c.ref(p.Namespace, p.Key, api.CodeInvalidKey)
	if err != nil {
		return out, err
	}
	out.Namespace, out.Key = ref.Namespace, ref.Key
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
	if err := s.decideAtLeader(c); err != nil {
		return err
	}
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
