package mcp

import (
	"context"
	"net/url"
	"strings"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp/oauth"
	"github.com/lockdhq/lockd/sdk"
)

// Resource URI templates. Path segments are percent-encoded (a key with a
// slash is %2F).
const (
	StateURITemplate      = "lockd://state/{namespace}/{key}"
	AttachmentURITemplate = "lockd://attachment/{namespace}/{key}/{name}"
)

func (f *Facade) addResources() {
	f.server.AddResourceTemplate(&sdkmcp.ResourceTemplate{Name: "state", Title: "Committed state of a key",
		URITemplate: StateURITemplate, MIMEType: "application/json",
		Description: "The committed JSON document of a key. Large documents are refused here: use state_get, which streams."}, f.readResource)
	f.server.AddResourceTemplate(&sdkmcp.ResourceTemplate{Name: "attachment", Title: "Committed attachment of a key",
		URITemplate: AttachmentURITemplate,
		Description: "A committed attachment of a key. Large attachments are refused here: use attachment_get, which streams."}, f.readResource)
}

// readResource serves lockd:// resources up to the resource size limit.
func (f *Facade) readResource(ctx context.Context, req *sdkmcp.ReadResourceRequest) (*sdkmcp.ReadResourceResult, error) {
	uri := req.Params.URI
	kind, parts, ok := parseResourceURI(uri)
	if !ok {
		return nil, sdkmcp.ResourceNotFoundError(uri)
	}
	c := &call{f: f}
	if req.Extra != nil {
		c.p = oauth.PrincipalOf(req.Extra.TokenInfo)
	}
	if f.cfg.RequireAuth && c.p == nil {
		return nil, toolError(&ToolError{Code: CodeUnauthorized})
	}
	ns, err := c.ns(parts[0], tlsutil.AccessRead)
	if err != nil {
		return nil, toolError(err)
	}
	limit := f.cfg.InlineBytes * 4
	switch kind {
	case "state":
		g, err := f.cfg.Client.Get(ctx, parts[1], sdk.WithNamespace(ns))
		if err != nil {
			return nil, toolError(err)
		}
		if !g.HasState {
			g.Close()
			return nil, sdkmcp.ResourceNotFoundError(uri)
		}
		buf, whole, err := readPrefix(g, limit)
		if err != nil {
			return nil, toolError(err)
		}
		if !whole {
			g.Close()
			return nil, toolError(&ToolError{Code: "resource_too_large", Detail: "the document is larger than a resource may be",
				Next: "Read it with the state_get tool (stream=true) and download_read."})
		}
		return &sdkmcp.ReadResourceResult{Contents: []*sdkmcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(buf)}}}, nil
	default:
		a, err := f.cfg.Client.RetrieveAttachment(ctx, parts[1], sdk.AttachmentSelector{Name: parts[2]}, sdk.WithNamespace(ns))
		if err != nil {
			return nil, toolError(err)
		}
		buf, whole, err := readPrefix(a, limit)
		if err != nil {
			return nil, toolError(err)
		}
		if !whole {
			a.Close()
			return nil, toolError(&ToolError{Code: "resource_too_large", Detail: "the attachment is larger than a resource may be",
				Next: "Read it with the attachment_get tool (stream=true) and download_read."})
		}
		rc := &sdkmcp.ResourceContents{URI: uri, MIMEType: a.ContentType}
		if p := inline(buf); p.Text != "" || len(buf) == 0 {
			rc.Text = p.Text
		} else {
			rc.Blob = buf
		}
		return &sdkmcp.ReadResourceResult{Contents: []*sdkmcp.ResourceContents{rc}}, nil
	}
}

// parseResourceURI splits lockd://state/NS/KEY and
// lockd://attachment/NS/KEY/NAME into their unescaped parts.
func parseResourceURI(raw string) (kind string, parts []string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "lockd" {
		return "", nil, false
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	for i, s := range segs {
		if segs[i], err = url.PathUnescape(s); err != nil || segs[i] == "" {
			return "", nil, false
		}
	}
	switch {
	case u.Host == "state" && len(segs) == 2, u.Host == "attachment" && len(segs) == 3:
		return u.Host, segs, true
	}
	return "", nil, false
}
