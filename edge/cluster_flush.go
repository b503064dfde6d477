package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/sdk/api"
)

// Index flushes across a cluster. Each node indexes the commits it makes,
// so "every acknowledged commit is visible to index queries" needs every
// node's indexer to catch up: /v1/index/flush and queries that wait for
// the index ask the other nodes too, through /v1/cluster/flush, which
// flushes one node's index only. Under mTLS that endpoint takes server
// identities only: the node that fans out has authorized its client.

// clusterFlushPath flushes this node's index of one namespace.
const clusterFlushPath = "/v1/cluster/flush"

// clusterFlushRequest is the body of /v1/cluster/flush.
type clusterFlushRequest struct {
	Namespace string `json:"namespace"`
	Async     bool   `json:"async,omitempty"`
	// Status asks for the node's index sequence only: nothing is flushed.
	Status bool `json:"status,omitempty"`
}

// clusterFlush serves /v1/cluster/flush: a flush of this node's index.
func (s *Server) clusterFlush(c *call) error {
	if s.index == nil {
		return fail(501, api.CodeIndexUnavailable, "indexing is not configured")
	}
	var req clusterFlushRequest
	if err := c.decodeStrict(&req, false); err != nil {
		return err
	}
	ns, err := s.resolveNamespace(req.Namespace)
	if err != nil {
		return err
	}
	if req.Status {
		seq, pending := s.index.Status(ns)
		writeJSON(c.RequestCtx, 200, api.IndexFlushResponse{Namespace: ns, Mode: "status", Pending: pending, IndexSeq: int64(seq)})
		return nil
	}
	if req.Async {
		pending, err := s.index.FlushAsync(ns)
		if err != nil && !errors.Is(err, index.ErrFlushBusy) {
			return err
		}
		writeJSON(c.RequestCtx, 202, api.IndexFlushResponse{Namespace: ns, Mode: "async", Accepted: true, Pending: pending})
		return nil
	}
	seq, err := s.index.Flush(c.ctx, ns)
	if err != nil {
		return err
	}
	_, pending := s.index.Status(ns)
	writeJSON(c.RequestCtx, 200, api.IndexFlushResponse{Namespace: ns, Mode: "wait", Accepted: true, Flushed: true,
		Pending: pending, IndexSeq: int64(seq)})
	return nil
}

// peerFlush is what the other nodes answered to a fanned-out flush.
type peerFlush struct {
	seq     int64
	pending bool
}

// FlushPeers flushes ns on every other live node (async: only starts the
// flushes) and sums their index sequences. It fails when a node does not
// answer: the flush then guarantees nothing, and the caller retries.
func (s *Server) FlushPeers(ctx context.Context, ns string, async bool) (int64, bool, error) {
	if s.cluster == nil {
		return 0, false, nil
	}
	body, _ := json.Marshal(clusterFlushRequest{Namespace: ns, Async: async})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		out  peerFlush
		errs []error
	)
	for _, m := range s.cluster.Live() {
		if m.Self {
			continue
		}
		wg.Add(1)
		go func(m cluster.Member) {
			defer wg.Done()
			var fr api.IndexFlushResponse
			err := s.peers.call(ctx, m.Endpoint, clusterFlushPath, body, &fr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", m.Endpoint, err))
				return
			}
			out.seq += fr.IndexSeq
			out.pending = out.pending || fr.Pending
			if !async {
				s.peerSeqs.learn(ns, m.ID, fr.IndexSeq)
			}
		}(m)
	}
	wg.Wait()
	return out.seq, out.pending, errors.Join(errs...)
}

// call POSTs body to path on the node at endpoint and decodes a 2xx JSON
// answer into out; other answers are errors.
func (p *peers) call(ctx context.Context, endpoint, path string, body []byte, out any) error {
	pool, err := p.pool(endpoint)
	if err != nil {
		return err
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod("POST")
	req.SetRequestURI(strings.TrimRight(endpoint, "/") + path)
	req.Header.SetContentType("application/json")
	req.Header.Set(api.HeaderForwardedBy, p.self)
	req.SetBodyRaw(body)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(2 * time.Minute)
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for attempt := 0; ; attempt++ {
		u, reused, err := pool.get(attempt == 0)
		if err != nil {
			return err
		}
		u.conn.SetDeadline(deadline)
		if err = req.Write(u.bw); err == nil {
			err = u.bw.Flush()
		}
		if err == nil {
			err = resp.Read(u.br)
		}
		if err != nil {
			u.close()
			if reused && attempt == 0 && ctx.Err() == nil {
				continue // the pooled connection had been closed
			}
			return err
		}
		u.conn.SetDeadline(time.Time{})
		if resp.ConnectionClose() {
			u.close()
		} else {
			pool.put(u)
		}
		break
	}
	if sc := resp.StatusCode(); sc < 200 || sc > 299 {
		return fmt.Errorf("edge: %s%s: %d %s", endpoint, path, sc, resp.Body())
	}
	if out == nil {
		_, err := io.Discard.Write(resp.Body())
		return err
	}
	return json.Unmarshal(resp.Body(), out)
}
