package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/queues"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/txn"
)

// Node-to-node transaction calls that lockd v0.9's wire has no path for:
// the TC asks a participant's node whether it can still commit, and asks
// every node for the key that minted a transaction (its lease lives only
// where it was acquired).
const (
	clusterTxnPrepare = "/v1/cluster/txn/prepare"
	clusterTxnOrigin  = "/v1/cluster/txn/origin"
)

type clusterTxnRequest struct {
	TxnID        string           `json:"txn_id"`
	Participants []txnParticipant `json:"participants,omitempty"`
}

func (s *Server) clusterTxnPrepare(c *call) error {
	var req clusterTxnRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	id, err := txnID(req.TxnID)
	if err != nil {
		return err
	}
	parts := make([]txn.Participant, 0, len(req.Participants))
	for _, p := range req.Participants {
		tp, err := c.participant(p)
		if err != nil {
			return err
		}
		parts = append(parts, tp)
	}
	if err := s.txns.PrepareLocal(c.ctx, id, string(c.Request.Header.Peek(headerTCBackend)), string(c.Request.Header.Peek(headerTCRelayFor)), parts); err != nil {
		return err
	}
	writeJSON(c.RequestCtx, 200, api.TxnDecisionResponse{TxnID: id, State: string(txn.Pending)})
	return nil
}

func (s *Server) clusterTxnOrigin(c *call) error {
	var req clusterTxnRequest
	if err := c.decodeLenient(&req); err != nil {
		return err
	}
	id, err := txnID(req.TxnID)
	if err != nil {
		return err
	}
	p, ok, err := s.txns.EnlistOrigin(c.ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return txn.ErrNotFound
	}
	writeJSON(c.RequestCtx, 200, txnParticipant{TxnParticipant: api.TxnParticipant{Namespace: p.Namespace, Key: p.Key}})
	return nil
}

// TxnRemote is the coordinator's transport to the other nodes of the
// cluster and to the resource managers of other islands.
func (s *Server) TxnRemote() txn.Remote {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	if s.cfg.TLS != nil && s.cfg.TLS.Client != nil {
		tr.TLSClientConfig = s.cfg.TLS.Client
	}
	return &txnRemote{s: s, client: &http.Client{Transport: tr}}
}

type txnRemote struct {
	s      *Server
	client *http.Client
}

var _ txn.Remote = (*txnRemote)(nil)

func (r *txnRemote) backend() string {
	if r.s.tc == nil {
		return ""
	}
	return r.s.tc.BackendHash
}

// Route finds the node that serves p: a registered RM of p's island, or
// the owner of p's key or queue in this cluster.
func (r *txnRemote) Route(ctx context.Context, p txn.Participant) (string, error) {
	if p.BackendHash != "" && p.BackendHash != r.backend() {
		if r.s.tc == nil {
			return "", fmt.Errorf("%w: no RM registry", txn.ErrUnavailable)
		}
		eps, err := r.s.tc.Registry.Endpoints(ctx, p.BackendHash)
		if err != nil {
			return "", err
		}
		if len(eps) == 0 {
			return "", fmt.Errorf("%w: backend %s has no registered resource manager", txn.ErrUnavailable, p.BackendHash)
		}
		return eps[rand.IntN(len(eps))], nil // another on the next attempt, likely
	}
	if r.s.cluster == nil {
		return "", nil
	}
	kind, name := OwnerRef(cluster.KindKey, p.Key)
	if p.Kind == txn.KindMessage {
		kind, name = cluster.KindQueue, p.Queue
	}
	owner, ok := r.s.cluster.Owner(kind, p.Namespace, name)
	if !ok || owner.Self {
		return "", nil
	}
	return owner.Endpoint, nil
}

func wireParts(ps []txn.Participant) []txnParticipant {
	out := make([]txnParticipant, 0, len(ps))
	for _, p := range ps {
		out = append(out, txnParticipant{TxnParticipant: api.TxnParticipant{Namespace: p.Namespace, Key: p.Key, BackendHash: p.BackendHash},
			Kind: p.Kind, Queue: p.Queue, MessageID: p.MessageID, LeaseID: p.LeaseID, Fencing: p.Fencing, MetaETag: p.MetaETag})
	}
	return out
}

func decisionBody(req txn.DecideRequest) txnDecisionRequest {
	return txnDecisionRequest{TxnDecisionRequest: api.TxnDecisionRequest{TxnID: req.TxnID, State: string(req.State),
		TCTerm: int64(req.Term), ExpiresAtUnix: req.ExpiresAt, TargetBackendHash: req.Target}, Participants: wireParts(req.Participants)}
}

// Decide sends a join or decision to the leader's /v1/txn/decide.
func (r *txnRemote) Decide(ctx context.Context, leader string, req txn.DecideRequest) (txn.State, error) {
	var out api.TxnDecisionResponse
	if err := r.post(ctx, leader, "/v1/txn/decide", decisionBody(req), &out); err != nil {
		return "", err
	}
	return txn.State(out.State), nil
}

// Apply sends a decision to an RM.
func (r *txnRemote) Apply(ctx context.Context, endpoint string, req txn.DecideRequest) error {
	path := "/v1/txn/rollback"
	if req.State == txn.Commit {
		path = "/v1/txn/commit"
	}
	return r.post(ctx, endpoint, path, decisionBody(req), nil, req.RelayFor)
}

// Prepare asks the node at endpoint whether parts can still commit; a
// refusal is txn.ErrPrepareRefused.
func (r *txnRemote) Prepare(ctx context.Context, endpoint, txnID, relayFor string, parts []txn.Participant) error {
	err := r.post(ctx, endpoint, clusterTxnPrepare, clusterTxnRequest{TxnID: txnID, Participants: wireParts(parts)}, nil, relayFor)
	var he *remoteError
	if errors.As(err, &he) && he.status >= 400 && he.status < 500 {
		return fmt.Errorf("%w: %w", txn.ErrPrepareRefused, err)
	}
	return err
}

// Origin asks every other live node for the key that minted txnID.
func (r *txnRemote) Origin(ctx context.Context, txnID string) (*txn.Participant, error) {
	if r.s.cluster == nil {
		return nil, nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		found *txn.Participant
		errs  []error
	)
	for _, m := range r.s.cluster.Live() {
		if m.Self {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p txnParticipant
			err := r.post(ctx, m.Endpoint, clusterTxnOrigin, clusterTxnRequest{TxnID: txnID}, &p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				found = &txn.Participant{Namespace: p.Namespace, Key: p.Key}
			case !errors.Is(err, txn.ErrNotFound):
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if found != nil {
		return found, nil
	}
	return nil, errors.Join(errs...)
}

// remoteError is a non-2xx answer of another node.
type remoteError struct {
	status int
	code   string
	detail string
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("edge: remote answered %d %s: %s", e.status, e.code, e.detail)
}

// remoteErrors rebuilds a domain error from another node's error code.
var remoteErrors = map[string]error{
	api.CodeTxnAborted:         txn.ErrAborted,
	api.CodeTxnFanoutFailed:    txn.ErrFanout,
	api.CodeTxnNotFound:        txn.ErrNotFound,
	api.CodeTxnMismatch:        txn.ErrDecided,
	api.CodeTxnPending:         txn.ErrPending,
	api.CodeTCTermStale:        txn.ErrStaleTerm,
	api.CodeInvalidState:       txn.ErrInvalidState,
	api.CodeInvalidParticipant: txn.ErrUnknownParticipant,
	api.CodeQueueLeaseMismatch: txn.ErrQueueLeaseMismatch,
	api.CodeLeaseExpired:       keyspace.ErrLeaseExpired,
	api.CodeLeaseRequired:      keyspace.ErrLeaseRequired,
	api.CodeTxnInDoubt:         keyspace.ErrInDoubt,
	api.CodeCASMismatch:        queues.ErrConflict,
}

// post sends body as JSON and decodes a 2xx answer into out; relayFor,
// when set, names the other island's TC this node relays for
// (X-Lockd-TC-Relay-For).
func (r *txnRemote) post(ctx context.Context, endpoint, path string, body, out any, relayFor ...string) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(endpoint, "/")+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %w", txn.ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h := r.backend(); h != "" {
		req.Header.Set(headerTCBackend, h)
	}
	if len(relayFor) > 0 && relayFor[0] != "" {
		req.Header.Set(headerTCRelayFor, relayFor[0])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s%s: %w", txn.ErrUnavailable, endpoint, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %s%s: %w", txn.ErrUnavailable, endpoint, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var er api.ErrorResponse
		_ = json.Unmarshal(data, &er)
		re := &remoteError{status: resp.StatusCode, code: er.Error, detail: er.Detail}
		if known, ok := remoteErrors[er.Error]; ok {
			return fmt.Errorf("%w: %w", known, re)
		}
		if resp.StatusCode >= 500 || resp.StatusCode == 429 {
			return fmt.Errorf("%w: %w", txn.ErrUnavailable, re)
		}
		return re
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
