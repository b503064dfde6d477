package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"
)

// rawTool registers a tool like tool does, but decodes its arguments and
// encodes its result directly, without the generic path's validation
// round trips through map[string]any. The chunk tools (upload_write,
// download_read) carry megabytes of base64 per call; each copy saved is
// memory the facade does not need. Schemas are the same as tool's.
//
// With a summary function the text content is summary(out) instead of the
// JSON: download_read's chunk then travels once (in structuredContent), not
// twice, which halves the result a client must take in one message.
func rawTool[In, Out any](f *Facade, t *sdkmcp.Tool, h func(context.Context, *call, In) (Out, error), summary func(Out) string) {
	in, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: tool %s: input schema: %v", t.Name, err))
	}
	out, err := jsonschema.For[Out](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: tool %s: output schema: %v", t.Name, err))
	}
	t.InputSchema, t.OutputSchema = in, out
	f.server.AddTool(t, func(ctx context.Context, req *sdkmcp.CallToolRequest) (*sdkmcp.CallToolResult, error) {
		var args In
		dec := json.NewDecoder(bytes.NewReader(req.Params.Arguments))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&args); err != nil {
			return errResult(errArg("arguments: " + err.Error())), nil
		}
		c, err := f.begin(req)
		if err != nil {
			return errResult(err), nil
		}
		res, err := h(ctx, c, args)
		if err != nil {
			return errResult(err), nil
		}
		raw, err := json.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("mcp: encode %s result: %w", t.Name, err)
		}
		text := ""
		if summary != nil {
			text = summary(res)
		} else {
			text = string(raw)
		}
		return &sdkmcp.CallToolResult{StructuredContent: json.RawMessage(raw),
			Content: []sdkmcp.Content{&sdkmcp.TextContent{Text: text}}}, nil
	})
}

func errResult(err error) *sdkmcp.CallToolResult {
	res := &sdkmcp.CallToolResult{}
	res.SetError(toolError(err))
	return res
}
