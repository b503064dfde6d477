package sdk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/lockdhq/lockd/sdk/api"
)

// QueryRequest selects keys of a namespace.
type QueryRequest struct {
	// Namespace defaults to the client's.
	Namespace string
	// Selector is the selector's JSON form: any value that marshals to it
	// (a map, json.RawMessage, a parsed lql.Selector). It wins over LQL.
	Selector any
	// LQL is the selector as LQL text ('/status="open"',
	// '/count>=10,/region="emea"'), parsed by the server. Empty LQL and a
	// nil Selector match every key.
	LQL string
	// Limit caps the keys of one page (server: default 100, at most 1000).
	Limit int
	// Cursor continues after a previous page (QueryResponse.Cursor).
	Cursor string
	// Fields projects documents (server-defined JSON).
	Fields map[string]any
	// Return is api.QueryReturnKeys (default) or api.QueryReturnDocuments.
	Return api.QueryReturn
	// Engine is "auto", "index" or "scan" (default: the namespace's).
	Engine string
	// Refresh "wait_for" waits until the index has caught up.
	Refresh string
}

type queryBody struct {
	Namespace string          `json:"namespace,omitempty"`
	Selector  json.RawMessage `json:"selector,omitempty"`
	Limit     int64           `json:"limit,omitempty"`
	Cursor    string          `json:"cursor,omitempty"`
	Fields    map[string]any  `json:"fields,omitempty"`
	Return    api.QueryReturn `json:"return,omitempty"`
}

// Query runs a query. Close the response.
func (c *Client) Query(ctx context.Context, req QueryRequest) (*QueryResponse, error) {
	body := queryBody{Namespace: c.ns(req.Namespace), Limit: int64(req.Limit), Cursor: req.Cursor,
		Fields: req.Fields, Return: req.Return}
	if req.Selector != nil {
		sel, err := json.Marshal(req.Selector)
		if err != nil {
			return nil, fmt.Errorf("lockd: encode selector: %w", err)
		}
		if s := bytes.TrimSpace(sel); !bytes.Equal(s, []byte("null")) && !bytes.Equal(s, []byte("{}")) {
			body.Selector = sel
		}
	}
	r := newCall(http.MethodPost, "/v1/query")
	if err := r.jsonBody(body); err != nil {
		return nil, err
	}
	if body.Selector == nil && strings.TrimSpace(req.LQL) != "" {
		// The server reads LQL clauses from query parameters, joining
		// each name and value with '=' again.
		name, value, _ := strings.Cut(strings.TrimSpace(req.LQL), "=")
		r.query.Set(name, value)
	}
	if req.Return != "" {
		r.query.Set("return", string(req.Return))
	}
	if req.Engine != "" {
		r.query.Set("engine", req.Engine)
	}
	if req.Refresh != "" {
		r.query.Set("refresh", req.Refresh)
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return newQueryResponse(resp, body.Namespace)
}

// QueryResponse is a query's answer: keys, or a stream of documents.
type QueryResponse struct {
	mode      api.QueryReturn
	namespace string
	keys      []string
	cursor    string
	indexSeq  int64
	metadata  map[string]string

	resp *http.Response
	rows *bufio.Reader
	done bool
}

func newQueryResponse(resp *http.Response, ns string) (*QueryResponse, error) {
	q := &QueryResponse{mode: api.QueryReturnKeys, namespace: ns, resp: resp}
	ct := resp.Header.Get("Content-Type")
	if strings.Contains(ct, api.ContentTypeNDJSON) || strings.EqualFold(resp.Header.Get(api.HeaderQueryReturn), string(api.QueryReturnDocuments)) {
		q.mode = api.QueryReturnDocuments
		q.rows = bufio.NewReaderSize(resp.Body, 64<<10)
		return q, nil
	}
	defer resp.Body.Close()
	q.done = true
	var out api.QueryResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("lockd: decode query answer: %w", err)
	}
	q.keys, q.cursor, q.indexSeq, q.metadata = out.Keys, out.Cursor, out.IndexSeq, out.Metadata
	if out.Namespace != "" {
		q.namespace = out.Namespace
	}
	q.readMeta(resp.Header)
	return q, nil
}

// readMeta takes cursor, index sequence and metadata from headers or
// trailers where the body did not carry them.
func (q *QueryResponse) readMeta(h http.Header) {
	if v := h.Get(api.HeaderQueryCursor); v != "" && q.cursor == "" {
		q.cursor = v
	}
	if v := h.Get(api.HeaderQueryIndexSeq); v != "" && q.indexSeq == 0 {
		q.indexSeq, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := h.Get(api.HeaderQueryMetadata); v != "" && q.metadata == nil {
		_ = json.Unmarshal([]byte(v), &q.metadata)
	}
}

// Mode is the answer's return mode.
func (q *QueryResponse) Mode() api.QueryReturn { return q.mode }

// Namespace is the namespace queried.
func (q *QueryResponse) Namespace() string { return q.namespace }

// Cursor continues the query on the next page ("" on the last). In
// documents mode it is known once the stream was read to its end.
func (q *QueryResponse) Cursor() string { return q.cursor }

// IndexSeq is the index sequence the answer reflects (0 when unknown).
func (q *QueryResponse) IndexSeq() int64 { return q.indexSeq }

// Metadata is the server's query metadata (engine used, …).
func (q *QueryResponse) Metadata() map[string]string { return q.metadata }

// Keys returns the matching keys; in documents mode it reads the rest of
// the stream, keeping only the keys.
func (q *QueryResponse) Keys() ([]string, error) {
	if q.mode == api.QueryReturnKeys {
		return q.keys, nil
	}
	var keys []string
	err := q.ForEach(func(r QueryRow) error {
		keys = append(keys, r.Key)
		return nil
	})
	return keys, err
}

// QueryRow is one match. In documents mode Doc holds the JSON document.
type QueryRow struct {
	Namespace string          `json:"ns"`
	Key       string          `json:"key"`
	Version   int64           `json:"ver,omitempty"`
	Doc       json.RawMessage `json:"doc,omitempty"`
}

// DocumentReader returns the row's document as a stream.
func (r QueryRow) DocumentReader() io.ReadCloser { return io.NopCloser(bytes.NewReader(r.Doc)) }

// DocumentInto decodes the row's document into v.
func (r QueryRow) DocumentInto(v any) error {
	if len(r.Doc) == 0 {
		return fmt.Errorf("lockd: query row %s has no document (keys mode)", r.Key)
	}
	return json.Unmarshal(r.Doc, v)
}

// Document decodes the row's document as a JSON object.
func (r QueryRow) Document() (map[string]any, error) {
	var m map[string]any
	return m, r.DocumentInto(&m)
}

// ForEach calls fn for every match in order, stopping at fn's first
// error. In documents mode each document is read as fn needs it; rows
// can be visited once.
func (q *QueryResponse) ForEach(fn func(QueryRow) error) error {
	if q.mode == api.QueryReturnKeys {
		for _, k := range q.keys {
			if err := fn(QueryRow{Namespace: q.namespace, Key: k}); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		row, err := q.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// next reads one NDJSON row; at the end it reads the trailers.
func (q *QueryResponse) next() (QueryRow, error) {
	if q.done {
		return QueryRow{}, io.EOF
	}
	for {
		line, err := q.rows.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var row QueryRow
			if jerr := json.Unmarshal(line, &row); jerr != nil {
				return row, fmt.Errorf("lockd: query stream: bad row: %w", jerr)
			}
			return row, nil
		}
		if errors.Is(err, io.EOF) {
			q.done = true
			q.readMeta(q.resp.Trailer)
			return QueryRow{}, io.EOF
		}
		if err != nil {
			return QueryRow{}, fmt.Errorf("lockd: query stream: %w", err)
		}
	}
}

// Close releases the response.
func (q *QueryResponse) Close() error {
	if q.resp == nil {
		return nil
	}
	return q.resp.Body.Close()
}

// NamespaceConfig returns a namespace's query configuration and its ETag.
func (c *Client) NamespaceConfig(ctx context.Context, namespace string) (*api.NamespaceConfigResponse, string, error) {
	r := newCall(http.MethodGet, "/v1/namespace")
	if ns := c.ns(namespace); ns != "" {
		r.query.Set("namespace", ns)
	}
	var out api.NamespaceConfigResponse
	h, err := c.doJSON(ctx, r, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, h.Get(api.HeaderETag), nil
}

// UpdateNamespaceConfig changes a namespace's query configuration; a
// non-empty ifMatch makes it conditional on the ETag read before.
func (c *Client) UpdateNamespaceConfig(ctx context.Context, req api.NamespaceConfigRequest, ifMatch string) (*api.NamespaceConfigResponse, string, error) {
	req.Namespace = c.ns(req.Namespace)
	r := newCall(http.MethodPost, "/v1/namespace")
	if req.Namespace != "" {
		r.query.Set("namespace", req.Namespace)
	}
	if ifMatch != "" {
		r.header.Set("If-Match", ifMatch)
	}
	if err := r.jsonBody(req); err != nil {
		return nil, "", err
	}
	var out api.NamespaceConfigResponse
	h, err := c.doJSON(ctx, r, &out)
	if err != nil {
		return nil, "", err
	}
	return &out, h.Get(api.HeaderETag), nil
}

// FlushIndex makes the namespace's index catch up with its commits: mode
// "wait" (default) answers when it has, "async" at once.
func (c *Client) FlushIndex(ctx context.Context, namespace, mode string) (*api.IndexFlushResponse, error) {
	r := newCall(http.MethodPost, "/v1/index/flush")
	ns := c.ns(namespace)
	if ns != "" {
		r.query.Set("namespace", ns)
	}
	if mode != "" {
		r.query.Set("mode", mode)
	}
	if err := r.jsonBody(api.IndexFlushRequest{Namespace: ns, Mode: mode}); err != nil {
		return nil, err
	}
	var out api.IndexFlushResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
