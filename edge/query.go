package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/index/lql"
	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/sdk/api"
)

// queryRoutes registers /v1/query, /v1/index/flush, /v1/namespace and
// /v1/mutate.
func (s *Server) queryRoutes(add addFunc) {
	// lockd v0.9 does not check the method of /v1/query (WIRE-FACTS).
	add("/v1/query", "query", "", s.queryHandler)
	add("/v1/index/flush", "index_flush", "POST", s.indexFlush)
	add("/v1/namespace", "namespace", "GET,POST", s.namespaceConfig)
	add("/v1/mutate", "mutate", "POST", s.mutate)
}

// queryBody is /v1/query's body (api.QueryRequest) with the selector and
// fields kept raw, so their errors carry positions.
type queryBody struct {
	Namespace string          `json:"namespace"`
	Selector  json.RawMessage `json:"selector"`
	Limit     int             `json:"limit"`
	Cursor    string          `json:"cursor"`
	Fields    json.RawMessage `json:"fields"`
	Return    string          `json:"return"`
}

// queryParams is a decoded /v1/query request.
type queryParams struct {
	req    index.Request
	fields []lql.Path
	docs   bool
}

func (s *Server) queryHandler(c *call) error {
	if s.index == nil {
		return fail(501, api.CodeQueryDisabled, "query service not configured")
	}
	body, err := c.readBody(s.cfg.JSONMax)
	if err != nil {
		return err
	}
	qp, err := s.parseQuery(body, c.QueryArgs().String())
	if err != nil {
		return err
	}
	prep, err := s.index.Prepare(c.ctx, qp.req)
	if err != nil {
		return err
	}
	if qp.docs {
		return s.streamDocuments(c, prep, qp)
	}
	return s.queryKeys(c, prep, qp)
}

// parseQuery decodes the body and the query string the way lockd v0.9
// does: the body is optional and lenient, query parameters override it.
func (s *Server) parseQuery(body []byte, rawQuery string) (queryParams, error) {
	var qb queryBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&qb); err != nil {
			return queryParams{}, badRequest(api.CodeInvalidBody, "failed to parse request: "+err.Error())
		}
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return queryParams{}, badRequest(api.CodeInvalidBody, "query string: "+err.Error())
	}
	get := func(k string) string { return strings.TrimSpace(values.Get(k)) }
	var qp queryParams
	ret := qb.Return
	if v := get("return"); v != "" {
		ret = v
	}
	if qp.docs, err = parseReturn(ret); err != nil {
		return qp, err
	}
	for _, o := range []struct {
		dst *string
		key string
	}{{&qb.Namespace, "namespace"}, {&qb.Cursor, "cursor"}} {
		if v := get(o.key); v != "" {
			*o.dst = v
		}
	}
	if n, err := strconv.Atoi(get("limit")); err == nil {
		qb.Limit = n
	}
	sel, err := parseSelector(qb.Selector, get("selector"), values)
	if err != nil {
		return qp, err
	}
	ns, err := s.resolveNamespace(qb.Namespace)
	if err != nil {
		return qp, err
	}
	fieldsRaw := qb.Fields
	if v := get("fields"); v != "" {
		fieldsRaw = json.RawMessage(v)
	}
	if qp.fields, err = parseFields(fieldsRaw); err != nil {
		return qp, err
	}
	engine, err := parseEngine(get("engine"))
	if err != nil {
		return qp, err
	}
	refresh, err := parseRefresh(get("refresh"))
	if err != nil {
		return qp, err
	}
	after, err := index.DecodeCursor(strings.TrimSpace(qb.Cursor))
	if err != nil {
		return qp, badRequest(api.CodeInvalidCursor, err.Error())
	}
	qp.req = index.Request{Namespace: ns, Selector: sel, Limit: qb.Limit, After: after, Engine: engine, Refresh: refresh, Docs: qp.docs}
	return qp, nil
}

func (s *Server) resolveNamespace(ns string) (string, error) {
	out, err := names.Namespace(ns, s.cfg.DefaultNamespace)
	if err != nil {
		return "", badRequest(api.CodeInvalidNamespace, err.Error())
	}
	return out, nil
}

// parseSelector reads the selector parameter (JSON), else the body's
// selector, else LQL clauses given as query parameters.
func parseSelector(body json.RawMessage, param string, values url.Values) (*lql.Selector, error) {
	src := []byte(param)
	if param == "" && len(body) > 0 && !bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		src = body
	}
	var sel *lql.Selector
	var err error
	if len(src) > 0 {
		sel, err = lql.ParseJSONSelector(src)
	} else {
		sel, err = lql.ParseSelectorValues(values)
	}
	if err != nil {
		return nil, badRequest(api.CodeInvalidSelector, err.Error())
	}
	return sel, nil
}

// parseFields reads a fields object whose keys are JSON Pointers (a key
// without a leading '/' gets one), in sorted order.
func parseFields(raw json.RawMessage) ([]lql.Path, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badRequest(api.CodeInvalidFields, "failed to parse fields: "+err.Error())
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]lql.Path, 0, len(keys))
	for _, k := range keys {
		if !strings.HasPrefix(k, "/") {
			k = "/" + k
		}
		p, err := lql.ParsePath(k)
		if err != nil {
			return nil, badRequest(api.CodeInvalidFields, fmt.Sprintf("field %q: %v", k, err))
		}
		out = append(out, p)
	}
	return out, nil
}

func parseReturn(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "keys":
		return false, nil
	case "documents", "document", "docs":
		return true, nil
	}
	return false, badRequest(api.CodeInvalidReturn, fmt.Sprintf("unsupported return mode %q", v))
}

func parseEngine(v string) (index.Engine, error) {
	switch strings.ToLower(v) {
	case "", "auto":
		return index.EngineAuto, nil
	case "index":
		return index.EngineIndex, nil
	case "scan":
		return index.EngineScan, nil
	}
	return "", badRequest(api.CodeInvalidEngine, fmt.Sprintf("unsupported query engine %q", v))
}

func parseRefresh(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return false, nil
	case "wait_for", "wait-for":
		return true, nil
	}
	return false, badRequest(api.CodeInvalidRefresh, fmt.Sprintf("unsupported refresh mode %q", v))
}

// queryKeys answers return=keys: a JSON body and the same facts in
// headers.
func (s *Server) queryKeys(c *call, prep *index.Prepared, qp queryParams) error {
	keys := []string{}
	res, err := prep.Run(c.ctx, func(h index.Hit) error {
		keys = append(keys, h.Key)
		return nil
	})
	if err != nil {
		return err
	}
	s.clusterIndexSeq(c.ctx, qp.req.Namespace, &res)
	meta := queryMetadata(res)
	for k, v := range queryHeaders(res, meta) {
		c.Response.Header.Set(k, v)
	}
	c.Response.Header.Set(api.HeaderQueryReturn, string(api.QueryReturnKeys))
	writeJSON(c.RequestCtx, 200, api.QueryResponse{Namespace: qp.req.Namespace, Keys: keys,
		Cursor: res.Cursor, IndexSeq: int64(res.IndexSeq), Metadata: meta})
	return nil
}

// queryMetadata reports the engine that answered and, for the index,
// whether commits are still being indexed (index_pending, as v0.9).
func queryMetadata(res index.Result) map[string]string {
	m := map[string]string{"engine": string(res.Engine)}
	if res.Engine == index.EngineIndex {
		m["index_pending"] = strconv.FormatBool(res.Pending)
	}
	return m
}

// queryHeaders are the cursor, index seq and metadata headers (or
// trailers) that are not empty.
func queryHeaders(res index.Result, meta map[string]string) map[string]string {
	h := map[string]string{}
	if res.Cursor != "" {
		h[api.HeaderQueryCursor] = res.Cursor
	}
	if res.IndexSeq > 0 {
		h[api.HeaderQueryIndexSeq] = strconv.FormatUint(res.IndexSeq, 10)
	}
	if len(meta) > 0 {
		b, _ := json.Marshal(meta)
		h[api.HeaderQueryMetadata] = string(b)
	}
	return h
}
