package mcp_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/mcp"
	"github.com/lockdhq/lockd/sdk/inprocess"
)

// env is a lockd node, a facade over it and an HTTP server for the facade.
type env struct {
	node   *inprocess.Server
	facade *mcp.Facade
	http   *httptest.Server
	url    string
}

func newEnv(t *testing.T, cfg mcp.Config, o mcp.HTTPOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := inprocess.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client = node.Client
	f, err := mcp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(f.Handler(o))
	e := &env{node: node, facade: f, http: hs, url: hs.URL + "/mcp"}
	t.Cleanup(func() {
		hs.CloseClientConnections()
		f.Close()
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		node.Close(ctx)
	})
	return e
}

// connect opens an MCP session as the go-sdk client does.
func (e *env) connect(t *testing.T) *sdkmcp.ClientSession {
	t.Helper()
	return connectTo(t, &sdkmcp.StreamableClientTransport{Endpoint: e.url, MaxRetries: -1})
}

func connectTo(t *testing.T, tr sdkmcp.Transport) *sdkmcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := sdkmcp.NewClient(&sdkmcp.Implementation{Name: "test-agent", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// toolErr is a tool error as the agent reads it.
type toolErr struct {
	Code       string `json:"error"`
	Detail     string `json:"detail"`
	Next       string `json:"next_step"`
	RetryAfter int64  `json:"retry_after_seconds"`
}

// call runs a tool; on success it decodes the structured result into out
// and returns nil, on a tool error it returns the error.
func call(t *testing.T, cs sessionLike, name string, args any, out any) *toolErr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdkmcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	if res.IsError {
		te := &toolErr{}
		text := res.Content[0].(*sdkmcp.TextContent).Text
		if err := json.Unmarshal([]byte(text), te); err != nil {
			t.Fatalf("%s: tool error is not JSON: %q", name, text)
		}
		if te.Code == "" || te.Next == "" {
			t.Fatalf("%s: tool error without code or next step: %q", name, text)
		}
		return te
	}
	if out != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: decode %s: %v", name, b, err)
		}
	}
	return nil
}

// must runs a tool that must succeed.
func must(t *testing.T, cs sessionLike, name string, args any, out any) {
	t.Helper()
	if te := call(t, cs, name, args, out); te != nil {
		t.Fatalf("%s(%v): %s: %s (%s)", name, args, te.Code, te.Detail, te.Next)
	}
}

// mustFail runs a tool that must fail with code.
func mustFail(t *testing.T, cs sessionLike, name string, args any, code string) *toolErr {
	t.Helper()
	te := call(t, cs, name, args, nil)
	if te == nil {
		t.Fatalf("%s(%v) succeeded, want error %s", name, args, code)
	}
	if te.Code != code {
		t.Fatalf("%s(%v): error %s (%s), want %s", name, args, te.Code, te.Detail, code)
	}
	return te
}

type lease struct {
	Namespace    string `json:"namespace"`
	Key          string `json:"key"`
	LeaseID      string `json:"lease_id"`
	TxnID        string `json:"txn_id"`
	FencingToken int64  `json:"fencing_token"`
	ExpiresIn    int64  `json:"expires_in_seconds"`
	Version      int64  `json:"version"`
}

type stateOut struct {
	Exists   bool   `json:"exists"`
	Version  int64  `json:"version"`
	ETag     string `json:"etag"`
	Document any    `json:"document"`
	StreamID string `json:"stream_id"`
}

type args = map[string]any

// sessionLike is a client session.
type sessionLike = *sdkmcp.ClientSession
