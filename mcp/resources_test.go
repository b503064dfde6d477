package mcp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/mcp"
	"github.com/lockdhq/lockd/sdk"
)

// Committed state and attachments are readable as lockd:// resources;
// large ones are refused with a pointer to the streaming tools.
func TestResources(t *testing.T) {
	e := newEnv(t, mcp.Config{InlineBytes: 256}, mcp.HTTPOptions{})
	cs := e.connect(t)
	var l lease
	must(t, cs, "lock_acquire", args{"namespace": "docs", "key": "a/b"}, &l)
	must(t, cs, "state_update", args{"lease_id": l.LeaseID, "document": args{"title": "hello"}}, nil)
	must(t, cs, "attachment_put", args{"lease_id": l.LeaseID, "name": "n.txt", "text": "note"}, nil)
	must(t, cs, "attachment_put", args{"lease_id": l.LeaseID, "name": "big.txt", "text": strings.Repeat("x", 2000)}, nil)
	must(t, cs, "lock_release", args{"lease_id": l.LeaseID}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tmpl, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(tmpl.ResourceTemplates) != 2 {
		t.Fatalf("templates %+v %v", tmpl, err)
	}
	res, err := cs.ReadResource(ctx, &sdkmcp.ReadResourceParams{URI: "lockd://state/docs/a%2Fb"})
	if err != nil || !strings.Contains(res.Contents[0].Text, `"hello"`) {
		t.Fatalf("state resource %+v %v", res, err)
	}
	res, err = cs.ReadResource(ctx, &sdkmcp.ReadResourceParams{URI: "lockd://attachment/docs/a%2Fb/n.txt"})
	if err != nil || res.Contents[0].Text != "note" {
		t.Fatalf("attachment resource %+v %v", res, err)
	}
	if _, err = cs.ReadResource(ctx, &sdkmcp.ReadResourceParams{URI: "lockd://attachment/docs/a%2Fb/big.txt"}); err == nil || !strings.Contains(err.Error(), "attachment_get") {
		t.Fatalf("large attachment as a resource: %v", err)
	}
	if _, err = cs.ReadResource(ctx, &sdkmcp.ReadResourceParams{URI: "lockd://state/docs/missing"}); err == nil {
		t.Fatal("missing key read as a resource")
	}
}

// Errors from lockd reach the agent with their code, the detail and a
// next step; retry hints are carried.
func TestToolErrorsCarryCodeAndNextStep(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code, next string
	}{
		{&sdk.APIError{Status: 409, Code: "waiting", Detail: "held"}, "waiting", "block_seconds"},
		{&sdk.APIError{Status: 403, Code: "fencing_mismatch"}, "fencing_mismatch", "lock_acquire"},
		{&sdk.APIError{Status: 409, Code: "version_conflict", CurrentVersion: 3}, "version_conflict", "state_get"},
		{&sdk.APIError{Status: 429, Code: "throttled", RetryAfter: 1500 * time.Millisecond}, "throttled", "retry_after_seconds"},
		{&sdk.APIError{Status: 400, Code: "invalid_ttl"}, "invalid_ttl", "argument"},
		{&sdk.APIError{Status: 502}, "http_502", "detail"},
		{sdk.ErrSessionClosed, "lease_required", "lock_acquire"},
		{context.DeadlineExceeded, mcp.CodeTimeout, "again"},
		{errors.New("dial tcp: connection refused"), "unavailable", "again"},
	} {
		te := mcp.ToolErrorOf(tc.err)
		if te.Code != tc.code || !strings.Contains(te.Next, tc.next) {
			t.Errorf("%v: %+v", tc.err, te)
		}
	}
	te := mcp.ToolErrorOf(&sdk.APIError{Status: 429, Code: "throttled", RetryAfter: 1500 * time.Millisecond})
	if te.RetryAfterSeconds != 2 || !strings.HasPrefix(te.Error(), `{"error":"throttled"`) {
		t.Fatalf("throttled %+v %s", te, te.Error())
	}
}
