package mcp

import (
	"context"
	"encoding/json"
	"errors"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// QueryIn is the input of query.
type QueryIn struct {
	Namespace string         `json:"namespace,omitempty" jsonschema:"namespace to search (default: the facade's default namespace)"`
	LQL       string         `json:"lql,omitempty" jsonschema:"selector in LQL, e.g. /status=\"open\" or /count>=10,/region=\"emea\" (comma = and); empty matches every key"`
	Selector  map[string]any `json:"selector,omitempty" jsonschema:"selector in its JSON form, instead of lql"`
	Return    string         `json:"return,omitempty" jsonschema:"keys (default) or documents"`
	Limit     int            `json:"limit,omitempty" jsonschema:"results per page (default 100, at most 1000)"`
	Cursor    string         `json:"cursor,omitempty" jsonschema:"continue after a previous page: its cursor"`
	Engine    string         `json:"engine,omitempty" jsonschema:"auto, index or scan (default: the namespace's)"`
	Refresh   string         `json:"refresh,omitempty" jsonschema:"wait_for: wait until the index has every committed change"`
}

// QueryDoc is one document of a documents query.
type QueryDoc struct {
	Key      string `json:"key"`
	Version  int64  `json:"version,omitempty"`
	Document any    `json:"document"`
}

// QueryOut is the output of query.
type QueryOut struct {
	Namespace string     `json:"namespace"`
	Keys      []string   `json:"keys,omitempty"`
	Documents []QueryDoc `json:"documents,omitempty"`
	Count     int        `json:"count"`
	Cursor    string     `json:"cursor,omitempty" jsonschema:"more results: call again with this cursor"`
	Truncated bool       `json:"truncated,omitempty" jsonschema:"the documents exceeded the size of one result: call again with a smaller limit"`
}

func (f *Facade) addQueryTools() {
	tool(f, &sdkmcp.Tool{Name: "query", Annotations: readOnly("Query keys or documents"),
		Description: "Find keys of a namespace whose committed JSON state matches a selector (LQL text or JSON form). return=keys lists keys; return=documents returns the documents too. " +
			"Results come in pages: pass cursor back to get the next page. Needs no lease."}, f.query)
}

func (f *Facade) query(ctx context.Context, c *call, in QueryIn) (QueryOut, error) {
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return QueryOut{}, err
	}
	ret := api.QueryReturn(in.Return)
	switch ret {
	case "", api.QueryReturnKeys, api.QueryReturnDocuments:
	default:
		return QueryOut{}, errArg("return must be keys or documents")
	}
	req := sdk.QueryRequest{Namespace: ns, LQL: in.LQL, Limit: in.Limit, Cursor: in.Cursor, Return: ret, Engine: in.Engine, Refresh: in.Refresh}
	if len(in.Selector) > 0 {
		req.Selector = in.Selector
	}
	q, err := f.cfg.Client.Query(ctx, req)
	if err != nil {
		return QueryOut{}, err
	}
	defer q.Close()
	out := QueryOut{Namespace: q.Namespace()}
	budget := f.cfg.InlineBytes * 4
	err = q.ForEach(func(r sdk.QueryRow) error {
		if q.Mode() == api.QueryReturnKeys {
			out.Keys = append(out.Keys, r.Key)
			return nil
		}
		if budget -= int64(len(r.Doc)); budget < 0 && len(out.Documents) > 0 {
			out.Truncated = true
			return errStop
		}
		var doc any
		if err := json.Unmarshal(r.Doc, &doc); err != nil {
			return err
		}
		out.Documents = append(out.Documents, QueryDoc{Key: r.Key, Version: r.Version, Document: doc})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return QueryOut{}, err
	}
	out.Count = len(out.Keys) + len(out.Documents)
	if !out.Truncated {
		out.Cursor = q.Cursor()
	}
	return out, nil
}

var errStop = errors.New("mcp: stop")
