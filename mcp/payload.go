package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"unicode/utf8"
)

// Payload is data returned by a tool: inline (text or base64) when it is
// small, else as a download to read with download_read.
type Payload struct {
	Text     string `json:"text,omitempty" jsonschema:"the data, when it is small and valid UTF-8"`
	Base64   string `json:"base64,omitempty" jsonschema:"the data in base64, when it is small and binary"`
	StreamID string `json:"stream_id,omitempty" jsonschema:"the data is large: read it with download_read(stream_id) until eof"`
	Bytes    int64  `json:"bytes,omitempty" jsonschema:"size in bytes, when known"`
}

// readPrefix reads up to limit+1 bytes of src: the whole of it when it
// fits in limit (whole is true and src is closed), else the prefix read.
func readPrefix(src io.ReadCloser, limit int64) (prefix []byte, whole bool, err error) {
	buf, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		src.Close()
		return nil, false, err
	}
	if int64(len(buf)) <= limit {
		src.Close()
		return buf, true, nil
	}
	return buf, false, nil
}

// prefixed is a ReadCloser that replays a prefix before the rest of src.
type prefixed struct {
	io.Reader
	src io.Closer
}

func (p *prefixed) Close() error { return p.src.Close() }

// payload returns src inline when it fits the inline limit (and stream is
// false), else registers it as a download.
func (c *call) payload(src io.ReadCloser, size int64, contentType string, stream bool) (Payload, error) {
	if !stream {
		buf, whole, err := readPrefix(src, c.f.cfg.InlineBytes)
		if err != nil {
			return Payload{}, err
		}
		if whole {
			return inline(buf), nil
		}
		src = &prefixed{Reader: io.MultiReader(bytes.NewReader(buf), src), src: src}
	}
	t, err := c.s.openDownload(src, size, contentType)
	if err != nil {
		return Payload{}, err
	}
	out := Payload{StreamID: t.id}
	if size >= 0 {
		out.Bytes = size
	}
	return out, nil
}

func inline(buf []byte) Payload {
	if utf8.Valid(buf) {
		return Payload{Text: string(buf), Bytes: int64(len(buf))}
	}
	return Payload{Base64: base64.StdEncoding.EncodeToString(buf), Bytes: int64(len(buf))}
}

// DataIn is inline data given to a tool: text or base64, not both.
type DataIn struct {
	Text   string `json:"text,omitempty" jsonschema:"the data as text (UTF-8)"`
	Base64 string `json:"base64,omitempty" jsonschema:"the data in standard base64, for binary data"`
}

func (d DataIn) bytes() ([]byte, error) {
	if d.Text != "" && d.Base64 != "" {
		return nil, errArg("give text or base64, not both")
	}
	if d.Base64 != "" {
		b, err := base64.StdEncoding.DecodeString(d.Base64)
		if err != nil {
			return nil, errArg("base64: " + err.Error())
		}
		return b, nil
	}
	return []byte(d.Text), nil
}

// marshalJSON encodes an agent's JSON value.
func marshalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errArg("json: " + err.Error())
	}
	return b, nil
}

// rawJSON decodes stored JSON for output, falling back to its text.
func rawJSON(b []byte) any {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	return v
}

// detachable is the context of a lockd request whose response body may
// outlive the tool call (it becomes a download): the call's cancellation
// aborts it only until detach, the facade's end always does.
type detachable struct {
	ctx      context.Context
	cancel   context.CancelFunc
	stopCall func() bool
	stopBase func() bool
}

func (f *Facade) detachable(ctx context.Context) *detachable {
	d := &detachable{}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.stopCall = context.AfterFunc(ctx, d.cancel)
	d.stopBase = context.AfterFunc(f.base, d.cancel)
	return d
}

// detach keeps the request alive after the call; the returned closer
// wraps body so that closing it ends the request's context too.
func (d *detachable) detach(body io.ReadCloser) io.ReadCloser {
	d.stopCall()
	return &ctxBody{ReadCloser: body, d: d}
}

// fail ends the request's context when no body is kept.
func (d *detachable) fail() {
	d.stopCall()
	d.stopBase()
	d.cancel()
}

type ctxBody struct {
	io.ReadCloser
	d *detachable
}

func (b *ctxBody) Close() error {
	err := b.ReadCloser.Close()
	b.d.stopBase()
	b.d.cancel()
	return err
}
