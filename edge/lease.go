package edge

import (
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
)

func (s *Server) acquire(c *call) error {
	var req api.AcquireRequest
	if err := c.decodeControl(&req); err != nil {
		return err
	}
	if req.Key == "" {
		req.Key = c.query("key")
	}
	if req.Namespace == "" {
		req.Namespace = c.query("namespace")
	}
	if req.TxnID == "" {
		req.TxnID = c.header(api.HeaderTxnID)
	}
	req.Owner = strings.TrimSpace(req.Owner)
	if req.Owner == "" {
		return badRequest(api.CodeMissingOwner, "owner is required")
	}
	if p := c.peer(); p != nil && p.spiffe != "" {
		// Under mTLS the owner names the certificate too (as lockd v0.9).
		req.Owner += "/" + path.Base(p.spiffe)
	}
	if err := validTxn(req.TxnID); err != nil {
		return err
	}
	if strings.TrimSpace(req.Key) == "" {
		ns, err := names.Namespace(req.Namespace, s.cfg.DefaultNamespace)
		if err != nil {
			ns = req.Namespace // c.ref reports it
		}
		req.Key = s.ownedKey(ns, func() string { return uuid.Must(uuid.NewV7()).String() })
	}
	ref, err := c.ref(req.Namespace, req.Key, api.CodeMissingKey)
	if err != nil {
		return err
	}
	// A blocked acquire ends early when its client goes away; the watch is
	// armed only once the acquire actually waits.
	wait := s.acquireWait(req.BlockSeconds)
	c.allowWait(wait)
	l, err := s.txns.Acquire(c.ctx, keyspace.AcquireRequest{
		Ref: ref, Owner: req.Owner, TTL: time.Duration(req.TTLSeconds) * time.Second,
		Wait: wait, IfNotExists: req.IfNotExists, TxnID: req.TxnID, WhileBlocked: c.untilClientGone, Delivered: c.delivered(),
	})
	if err != nil {
		return err
	}
	setUintHeader(&c.Response.Header, api.HeaderFencingToken, l.Fencing)
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, l.Version)
	cid := c.cid
	writeObject(c.RequestCtx, func(o *jsonObject) {
		o.str("correlation_id", cid, true)
		o.int("expires_at_unix", l.ExpiresAt.Unix(), false)
		o.int("fencing_token", int64(l.Fencing), false)
		o.str("key", l.Key, false)
		o.str("lease_id", l.LeaseID, false)
		o.str("namespace", l.Namespace, false)
		o.str("owner", l.Owner, false)
		o.str("state_etag", l.ETag, true)
		o.str("txn_id", l.TxnID, false)
		o.int("version", l.Version, false)
	})
	return nil
}

// acquireWait resolves block_seconds: -1 (or any negative) fails at once,
// 0 waits up to --acquire-block, N waits N seconds.
func (s *Server) acquireWait(block int64) time.Duration {
	switch {
	case block < 0:
		return 0
	case block == 0:
		return s.cfg.AcquireBlock
	}
	return time.Duration(block) * time.Second
}

func (s *Server) keepAlive(c *call) error {
	fencing, err := c.fencing()
	if err != nil {
		return err
	}
	var req api.KeepAliveRequest
	if err := c.decodeControl(&req); err != nil {
		return err
	}
	ref, err := c.ref(first(req.Namespace, c.query("namespace")), first(req.Key, c.query("key")), api.CodeMissingKey)
	if err != nil {
		return err
	}
	if req.LeaseID == "" {
		return badRequest(api.CodeMissingLease, "lease_id required")
	}
	if isQueueStateKey(ref.Key) {
		return fail(403, api.CodeQueueStateKeepaliveUnsupported,
			"a queue message's workflow state lives as long as its delivery: extend the message instead")
	}
	txn := first(c.header(api.HeaderTxnID), req.TxnID)
	exp, err := s.keys.KeepAlive(c.ctx, keyspace.KeepAliveRequest{
		Ref: ref, LeaseProof: keyspace.LeaseProof{LeaseID: req.LeaseID, Fencing: fencing, TxnID: txn},
		TTL: time.Duration(req.TTLSeconds) * time.Second,
	})
	if err != nil {
		return err
	}
	setUintHeader(&c.Response.Header, api.HeaderFencingToken, fencing)
	o := newObject(nil)
	o.int("expires_at_unix", exp.Unix(), false)
	writeRaw(c.RequestCtx, 200, o.end())
	return nil
}

func (s *Server) release(c *call) error {
	fencing, err := c.fencing()
	if err != nil {
		return err
	}
	var req api.ReleaseRequest
	if err := c.decodeControl(&req); err != nil {
		return err
	}
	ref, err := c.ref(first(req.Namespace, c.query("namespace")), first(req.Key, c.query("key")), api.CodeMissingKey)
	if err != nil {
		return err
	}
	if req.LeaseID == "" {
		return badRequest(api.CodeMissingLease, "lease_id required")
	}
	if req.TxnID == "" {
		return badRequest(api.CodeMissingTxn, "txn_id required")
	}
	released, err := s.txns.Release(c.ctx, keyspace.ReleaseRequest{
		Ref: ref, LeaseProof: keyspace.LeaseProof{LeaseID: req.LeaseID, Fencing: fencing, TxnID: req.TxnID},
		Rollback: req.Rollback,
	})
	if err != nil {
		return err
	}
	if released {
		writeRaw(c.RequestCtx, 200, releasedTrue)
	} else {
		writeRaw(c.RequestCtx, 200, releasedFalse)
	}
	return nil
}

func (s *Server) describe(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	d, err := s.keys.Describe(c.ctx, ref)
	if err != nil {
		return err
	}
	if n, err := s.keys.Waiters(c.ctx, ref); err == nil {
		setIntHeader(&c.Response.Header, api.HeaderWaiters, int64(n))
	}
	resp := api.DescribeResponse{
		Namespace: d.Namespace, Key: d.Key, Owner: d.Owner, LeaseID: d.LeaseID,
		Version: d.Version, StateETag: d.ETag, Metadata: meta(d.Hidden),
	}
	if !d.ExpiresAt.IsZero() {
		resp.ExpiresAtUnix = d.ExpiresAt.Unix()
	}
	if !d.UpdatedAt.IsZero() {
		resp.UpdatedAtUnix = d.UpdatedAt.Unix()
	}
	writeJSON(c.RequestCtx, 200, resp)
	return nil
}

// isQueueStateKey reports a message's workflow state key,
// "q/QUEUE/state/ID" (queues.StateKey).
func isQueueStateKey(key string) bool {
	parts := strings.Split(key, "/")
	return len(parts) == 4 && parts[0] == "q" && parts[2] == "state"
}

func meta(hidden bool) api.MetadataAttributes {
	return api.MetadataAttributes{QueryHidden: hidden}
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

var (
	releasedTrue  = []byte(`{"released":true}` + "\n")
	releasedFalse = []byte(`{"released":false}` + "\n")
)
