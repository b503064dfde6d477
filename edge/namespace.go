package edge

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/sdk/api"
)

// maxFlushBody bounds /v1/index/flush bodies (min(8 KiB, json-max), as v0.9).
const maxFlushBody = 8 << 10

// indexFlush makes every acknowledged commit visible to index queries:
// mode=wait (default) answers 200 when done, mode=async 202 at once. With
// indexing disabled every query scans, which sees every commit already,
// so a flush has nothing to wait for.
func (s *Server) indexFlush(c *call) error {
	if s.index == nil {
		return fail(501, api.CodeIndexUnavailable, "indexing is not configured")
	}
	body, err := c.readBody(min(maxFlushBody, s.cfg.JSONMax))
	if err != nil {
		return err
	}
	var req api.IndexFlushRequest
	if err := c.decodeStrictBytes(body, &req, true); err != nil {
		return err
	}
	if v := c.query("namespace"); v != "" {
		req.Namespace = v
	}
	ns, err := s.resolveNamespace(req.Namespace)
	if err != nil {
		return err
	}
	if v := c.query("mode"); v != "" {
		req.Mode = v
	}
	fanOut := s.cluster != nil && !c.forwarded
	switch strings.ToLower(strings.TrimSpace(req.Mode)) {
	case "", "wait", "sync":
		var peerSeq int64
		var peerPending bool
		if fanOut {
			// The other nodes first: every commit acknowledged before
			// this flush began is then indexed, wherever it was made.
			if peerSeq, peerPending, err = s.FlushPeers(c.ctx, ns, false); err != nil {
				he := fail(503, api.CodeUnavailable, "flushing the other nodes' index: "+err.Error())
				he.retryAfter = time.Second
				return he
			}
		}
		seq, err := s.index.Flush(c.ctx, ns)
		if err != nil {
			return err
		}
		_, pending := s.index.Status(ns)
		writeJSON(c.RequestCtx, 200, api.IndexFlushResponse{Namespace: ns, Mode: "wait", Accepted: true, Flushed: true,
			Pending: pending || peerPending, IndexSeq: int64(seq) + peerSeq})
	case "async":
		if fanOut {
			if _, _, err := s.FlushPeers(c.ctx, ns, true); err != nil {
				s.log.Warn().Err(err).Str("namespace", ns).Msg("async flush of the other nodes failed")
			}
		}
		pending, err := s.index.FlushAsync(ns)
		if err != nil {
			return err
		}
		writeJSON(c.RequestCtx, 202, api.IndexFlushResponse{Namespace: ns, Mode: "async", Accepted: true,
			Pending: pending, FlushID: uuid.Must(uuid.NewV7()).String()})
	default:
		return badRequest(api.CodeInvalidMode, fmt.Sprintf("unsupported flush mode %q", req.Mode))
	}
	return nil
}

// namespaceBody is api.NamespaceConfigRequest with the query section
// optional, to tell a missing section from an empty one.
type namespaceBody struct {
	Namespace string                    `json:"namespace"`
	Query     *api.NamespaceQueryConfig `json:"query"`
}

// namespaceConfig reads (GET) or updates (POST, If-Match) a namespace's
// query engine preferences; both answer the configuration and its ETag.
func (s *Server) namespaceConfig(c *call) error {
	if s.index == nil {
		return fail(501, api.CodeNamespaceConfigUnavailable, "namespace configuration endpoints are disabled")
	}
	ns, err := s.resolveNamespace(c.query("namespace"))
	if err != nil {
		return err
	}
	var cfg index.Config
	var etag string
	if c.IsGet() {
		cfg, etag, err = s.index.LoadConfig(c.ctx, ns)
	} else {
		cfg, etag, ns, err = s.saveNamespace(c, ns)
	}
	if err != nil {
		return err
	}
	if etag != "" {
		c.Response.Header.Set(api.HeaderETag, etag)
	}
	writeJSON(c.RequestCtx, 200, api.NamespaceConfigResponse{Namespace: ns, Query: api.NamespaceQueryConfig{
		PreferredEngine: string(cfg.Preferred), FallbackEngine: string(cfg.Fallback)}})
	return nil
}

func (s *Server) saveNamespace(c *call, ns string) (index.Config, string, string, error) {
	body, err := c.readBody(maxControlBody)
	if err != nil {
		return index.Config{}, "", "", err
	}
	var req namespaceBody
	if err := c.decodeStrictBytes(body, &req, false); err != nil {
		return index.Config{}, "", "", err
	}
	if strings.TrimSpace(req.Namespace) != "" {
		if ns, err = s.resolveNamespace(req.Namespace); err != nil {
			return index.Config{}, "", "", err
		}
	}
	if req.Query == nil {
		return index.Config{}, "", "", badRequest(api.CodeInvalidNamespaceRequest, "query configuration required")
	}
	cfg, etag, err := s.index.SaveConfig(c.ctx, ns, index.ConfigPatch{
		Preferred: req.Query.PreferredEngine, Fallback: req.Query.FallbackEngine}, c.header("If-Match"))
	return cfg, etag, ns, err
}
