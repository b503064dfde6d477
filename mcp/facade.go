package mcp

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/mcp/oauth"
	"github.com/lockdhq/lockd/sdk/api"
)

// Facade is the MCP server of a lockd cluster. Close it to give back what
// its sessions hold.
type Facade struct {
	cfg    Config
	server *sdkmcp.Server
	reg    *registry

	base   context.Context
	cancel context.CancelFunc

	sweepMu sync.Mutex
	sweep   clock.Timer
	closed  bool
}

// instructions tell the agent how the tools fit together.
const instructions = `lockd: leases with fencing tokens, JSON state and attachments per key, queries, queues and transactions.
Typical flow: lock_acquire a key -> state_get (with lease_id to see your staged view) -> state_update / state_mutate / attachment_put -> lock_release (commits; rollback=true discards).
Leases have a TTL and no automatic renewal: call lock_keepalive before expires_in_seconds runs out, or the lease expires and what you staged is lost. Leases still held when this MCP session ends are rolled back.
Several keys atomically: txn_begin with all keys, stage changes with each lease_id, then txn_commit (or txn_rollback).
Queues: queue_enqueue, queue_dequeue (returns a delivery you must queue_ack or queue_nack), queue_extend for long work.
Large payloads: results carry stream_id instead of inline data; read them with download_read until eof. Upload large data with upload_begin, upload_write (chunks), upload_finish.
Errors are JSON with "error" (the lockd code), "detail" and "next_step": follow next_step.`

// New builds the facade and its tools.
func New(cfg Config) (*Facade, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Facade{cfg: cfg}
	f.base, f.cancel = context.WithCancel(context.Background())
	f.reg = &registry{f: f, sessions: map[*sdkmcp.ServerSession]*session{}}
	f.server = sdkmcp.NewServer(&sdkmcp.Implementation{Name: cfg.Name, Title: "lockd", Version: cfg.Version},
		&sdkmcp.ServerOptions{Instructions: instructions, Logger: cfg.Logger, SchemaCache: sdkmcp.NewSchemaCache()})
	f.addLeaseTools()
	f.addStateTools()
	f.addQueryTools()
	f.addAttachmentTools()
	f.addQueueTools()
	f.addTxnTools()
	f.addTransferTools()
	f.addResources()
	f.armSweep()
	return f, nil
}

// Server is the MCP server, e.g. to serve it over another transport.
func (f *Facade) Server() *sdkmcp.Server { return f.server }

// RunStdio serves one session over stdin/stdout until the client closes
// it or ctx ends; the session's leases are given back before it returns.
func (f *Facade) RunStdio(ctx context.Context) error {
	err := f.server.Run(ctx, &sdkmcp.StdioTransport{MaxLineLength: int(2*f.cfg.MaxChunk) + 1<<20})
	f.reg.close()
	return err
}

// HTTPOptions configure the streamable HTTP handler.
type HTTPOptions struct {
	// Auth, when set, protects the MCP endpoint with bearer tokens and
	// serves its OAuth endpoints and discovery documents.
	Auth *oauth.Server
	// Path of the MCP endpoint (default /mcp).
	Path string
	// SessionTimeout ends sessions idle this long (default 10 minutes);
	// their leases are rolled back.
	SessionTimeout time.Duration
}

// Handler returns the HTTP handler: the streamable MCP endpoint and, with
// OAuth, the authorization server's endpoints.
func (f *Facade) Handler(o HTTPOptions) http.Handler {
	if o.Path == "" {
		o.Path = "/mcp"
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Minute
	}
	var h http.Handler = sdkmcp.NewStreamableHTTPHandler(func(*http.Request) *sdkmcp.Server { return f.server },
		&sdkmcp.StreamableHTTPOptions{SessionTimeout: o.SessionTimeout, Logger: f.cfg.Logger,
			MaxRequestBodyBytes: 2*f.cfg.MaxChunk + 1<<20})
	mux := http.NewServeMux()
	if o.Auth != nil {
		h = o.Auth.Protect(h)
		o.Auth.Register(mux)
	}
	mux.Handle(o.Path, h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	return mux
}

// Close ends every session (rolling back their leases, nacking their
// deliveries, aborting their transfers) and stops the facade.
func (f *Facade) Close() error {
	f.sweepMu.Lock()
	f.closed = true
	if f.sweep != nil {
		f.sweep.Stop()
	}
	f.sweepMu.Unlock()
	f.reg.close()
	f.cancel()
	f.reg.wg.Wait()
	return nil
}

// armSweep schedules the next sweep of idle transfers.
func (f *Facade) armSweep() {
	every := max(f.cfg.TransferIdle/4, time.Second)
	f.sweepMu.Lock()
	defer f.sweepMu.Unlock()
	if f.closed {
		return
	}
	f.sweep = f.cfg.Clock.AfterFunc(every, func() {
		before := f.cfg.Clock.Now().Add(-f.cfg.TransferIdle)
		for _, s := range f.reg.all() {
			s.sweepTransfers(before)
		}
		f.armSweep()
	})
}

// call is one tool call: its session and the principal it acts for.
type call struct {
	f *Facade
	s *session
	p *oauth.Principal
}

// begin resolves the session and principal of a request.
func (f *Facade) begin(req *sdkmcp.CallToolRequest) (*call, error) {
	s, err := f.reg.get(req.Session)
	if err != nil {
		return nil, err
	}
	c := &call{f: f, s: s}
	if req.Extra != nil {
		c.p = oauth.PrincipalOf(req.Extra.TokenInfo)
	}
	if f.cfg.RequireAuth && c.p == nil {
		return nil, &ToolError{Code: CodeUnauthorized, Detail: "no verified OAuth principal on this request"}
	}
	return c, nil
}

// ns normalises a namespace (default: the facade's) and checks that the
// principal may access it so.
func (c *call) ns(raw string, access tlsutil.Access) (string, error) {
	ns, err := names.Namespace(raw, c.f.cfg.DefaultNamespace)
	if err != nil {
		return "", &ToolError{Code: api.CodeInvalidNamespace, Detail: err.Error()}
	}
	return ns, c.allow(ns, access)
}

// allow checks the principal's claims on a normalised namespace.
func (c *call) allow(ns string, access tlsutil.Access) error {
	if c.p == nil || c.p.Claims.Allows(ns, access) {
		return nil
	}
	return &ToolError{Code: api.CodeNamespaceForbidden,
		Detail: "client " + c.p.ClientID + " may not " + access.String() + " namespace " + ns + " (its claims: " + joinClaims(c.p.Namespaces) + ")"}
}

func joinClaims(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// owner is the lease owner of the call when the agent names none.
func (c *call) owner(given string) string {
	if given != "" {
		return given
	}
	who := "local"
	if c.p != nil {
		who = c.p.ClientID
	}
	return "mcp:" + who + ":" + c.s.id[:8]
}

// tool registers a typed tool whose handler gets the call and whose
// errors become ToolErrors.
func tool[In, Out any](f *Facade, t *sdkmcp.Tool, h func(context.Context, *call, In) (Out, error)) {
	sdkmcp.AddTool(f.server, t, func(ctx context.Context, req *sdkmcp.CallToolRequest, in In) (*sdkmcp.CallToolResult, Out, error) {
		var zero Out
		c, err := f.begin(req)
		if err != nil {
			return nil, zero, toolError(err)
		}
		out, err := h(ctx, c, in)
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil, zero, err
			}
			return nil, zero, toolError(err)
		}
		return nil, out, nil
	})
}

var (
	yes = true
	no  = false
)

// Annotation presets.
func readOnly(title string) *sdkmcp.ToolAnnotations {
	return &sdkmcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: &no}
}

func mutating(title string, destructive bool) *sdkmcp.ToolAnnotations {
	d := &no
	if destructive {
		d = &yes
	}
	return &sdkmcp.ToolAnnotations{Title: title, DestructiveHint: d, OpenWorldHint: &no}
}
