package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/lockdhq/lockd/sdk/api"
)

// GetResponse is a key's JSON state as a stream. Read it (or Decode,
// Bytes) and Close it. A key without state has HasState false and reads
// as empty.
type GetResponse struct {
	Namespace string
	Key       string
	// HasState is false when the key holds no state (HTTP 204).
	HasState bool
	// Version and ETag identify the state read.
	Version int64
	ETag    string

	c       *Client
	body    io.ReadCloser
	onClose func()
	once    sync.Once
}

// Read reads the state's JSON bytes.
func (g *GetResponse) Read(p []byte) (int, error) {
	if g.body == nil {
		return 0, io.EOF
	}
	return g.body.Read(p)
}

// Close releases the response; it is safe to call more than once.
func (g *GetResponse) Close() error {
	var err error
	g.once.Do(func() {
		if g.body != nil {
			err = g.body.Close()
		}
		if g.onClose != nil {
			g.onClose()
		}
	})
	return err
}

// Bytes reads the whole state (nil without state) and closes the response.
func (g *GetResponse) Bytes() ([]byte, error) {
	defer g.Close()
	if !g.HasState {
		return nil, nil
	}
	return io.ReadAll(g)
}

// Decode decodes the state into v and closes the response; without state
// v is left as it is.
func (g *GetResponse) Decode(v any) error {
	defer g.Close()
	if !g.HasState {
		return nil
	}
	if err := json.NewDecoder(g).Decode(v); err != nil {
		return fmt.Errorf("lockd: decode state of %s: %w", g.Key, err)
	}
	return nil
}

func (c *Client) getResponse(resp *http.Response, ns, key string) *GetResponse {
	g := &GetResponse{Namespace: ns, Key: key, c: c, HasState: resp.StatusCode != http.StatusNoContent}
	g.ETag = resp.Header.Get(api.HeaderETag)
	g.Version, _ = strconv.ParseInt(resp.Header.Get(api.HeaderKeyVersion), 10, 64)
	if g.HasState {
		g.body = resp.Body
	} else {
		resp.Body.Close()
	}
	return g
}

// Get reads a key's committed (published) state without a lease
// (/v1/get?public=1). Close the response.
func (c *Client) Get(ctx context.Context, key string, opts ...KeyOption) (*GetResponse, error) {
	r := c.keyCall(http.MethodPost, "/v1/get", key, opts)
	r.query.Set("public", "1")
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return c.getResponse(resp, r.query.Get("namespace"), key), nil
}

// Get streams the state as the lease sees it: what is staged under the
// lease, else the committed state. Close the response; until then it
// counts as work in flight of the session.
func (s *LeaseSession) Get(ctx context.Context) (*GetResponse, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	resp, err := s.c.do(s.ctx(ctx), s.leaseCall(http.MethodPost, "/v1/get"))
	if err != nil {
		s.end()
		return nil, err
	}
	g := s.c.getResponse(resp, s.Namespace, s.Key)
	g.onClose = s.end
	return g, nil
}

// Load decodes the lease's view of the state into v; without state v is
// left as it is.
func (s *LeaseSession) Load(ctx context.Context, v any) error {
	g, err := s.Get(ctx)
	if err != nil {
		return err
	}
	return g.Decode(v)
}

// UpdateOption adds a condition or attribute to a state write.
type UpdateOption func(*call)

// IfVersion makes the write conditional on the key's version (409
// version_conflict otherwise).
func IfVersion(v int64) UpdateOption {
	return func(r *call) { r.header.Set(api.HeaderIfVersion, strconv.FormatInt(v, 10)) }
}

// IfETag makes the write conditional on the state's ETag (409
// etag_mismatch otherwise).
func IfETag(etag string) UpdateOption {
	return func(r *call) {
		if etag != "" {
			r.header.Set(api.HeaderIfStateETag, etag)
		}
	}
}

// WithQueryHidden hides the key from queries from this commit on.
func WithQueryHidden() UpdateOption {
	return func(r *call) { r.header.Set(api.HeaderQueryHidden, "true") }
}

// WithQueryVisible makes a hidden key visible to queries again.
func WithQueryVisible() UpdateOption {
	return func(r *call) { r.header.Set(api.HeaderQueryHidden, "false") }
}

// WithExpectedSHA256 has the server check the body's SHA-256 (hex).
func WithExpectedSHA256(hexSum string) UpdateOption {
	return func(r *call) { r.header.Set(api.HeaderExpectedSHA256, hexSum) }
}

// WithExpectedBytes has the server check the body's length.
func WithExpectedBytes(n int64) UpdateOption {
	return func(r *call) { r.header.Set(api.HeaderExpectedBytes, strconv.FormatInt(n, 10)) }
}

// Update stages body (a JSON document, streamed) as the key's new state;
// Release commits it. A body that is an io.Seeker is replayed on retries,
// others are sent once.
func (s *LeaseSession) Update(ctx context.Context, body io.Reader, opts ...UpdateOption) (*api.UpdateResponse, error) {
	r := s.leaseCall(http.MethodPost, "/v1/update")
	r.stream, r.contentType = body, "application/json"
	if l, ok := body.(interface{ Len() int }); ok {
		r.size = int64(l.Len())
	}
	for _, o := range opts {
		o(r)
	}
	var out api.UpdateResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateBytes stages a JSON document held in memory.
func (s *LeaseSession) UpdateBytes(ctx context.Context, doc []byte, opts ...UpdateOption) (*api.UpdateResponse, error) {
	return s.Update(ctx, bytes.NewReader(doc), opts...)
}

// Save stages v, encoded as JSON, as the key's new state.
func (s *LeaseSession) Save(ctx context.Context, v any, opts ...UpdateOption) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("lockd: encode state of %s: %w", s.Key, err)
	}
	_, err = s.UpdateBytes(ctx, doc, opts...)
	return err
}

// Remove stages the deletion of the key's state (committed on release).
func (s *LeaseSession) Remove(ctx context.Context, opts ...UpdateOption) (*api.RemoveResponse, error) {
	r := s.leaseCall(http.MethodPost, "/v1/remove")
	for _, o := range opts {
		o(r)
	}
	var out api.RemoveResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateMetadata stages metadata attributes (query_hidden) without
// rewriting the state.
func (s *LeaseSession) UpdateMetadata(ctx context.Context, m api.MetadataMutation, opts ...UpdateOption) (*api.MetadataUpdateResponse, error) {
	r := s.leaseCall(http.MethodPost, "/v1/metadata")
	if err := r.jsonBody(m); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(r)
	}
	var out api.MetadataUpdateResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Mutate applies LQL mutations ("/status=\"ready\"", "/count++") to the
// lease's view of the state on the server and stages the result.
func (s *LeaseSession) Mutate(ctx context.Context, mutations []string, opts ...UpdateOption) (*api.UpdateResponse, error) {
	r := s.leaseCall(http.MethodPost, "/v1/mutate")
	if err := r.jsonBody(api.MutateRequest{Namespace: s.Namespace, Mutations: mutations}); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(r)
	}
	var out api.UpdateResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
