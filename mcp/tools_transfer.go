package mcp

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
)

// UploadBeginIn is the input of upload_begin.
type UploadBeginIn struct {
	Target string `json:"target" jsonschema:"attachment (needs lease_id and name), state (needs lease_id; the bytes are the JSON document) or queue (needs queue)"`
	// attachment and state
	LeaseID string `json:"lease_id,omitempty"`
	// attachment
	Name             string `json:"name,omitempty" jsonschema:"attachment name"`
	ContentType      string `json:"content_type,omitempty"`
	PreventOverwrite bool   `json:"prevent_overwrite,omitempty"`
	ExpectedSHA256   string `json:"expected_sha256,omitempty" jsonschema:"hex SHA-256 of the whole upload; lockd refuses a mismatch"`
	ExpectedBytes    int64  `json:"expected_bytes,omitempty" jsonschema:"total size of the upload, when known"`
	// state
	CondIn
	// queue
	Namespace string `json:"namespace,omitempty" jsonschema:"queue namespace"`
	Queue     string `json:"queue,omitempty"`
	EnqueueOpts
}

// UploadOut is the output of upload_begin.
type UploadOut struct {
	UploadID      string `json:"upload_id"`
	MaxChunkBytes int64  `json:"max_chunk_bytes" jsonschema:"largest chunk (decoded bytes) one upload_write may carry"`
}

// UploadWriteIn is the input of upload_write.
type UploadWriteIn struct {
	UploadID string `json:"upload_id"`
	DataIn
}

// UploadWriteOut is the output of upload_write.
type UploadWriteOut struct {
	UploadID string `json:"upload_id"`
	Written  int64  `json:"written" jsonschema:"bytes written so far"`
}

// UploadFinishOut is the output of upload_finish: the result of the
// operation the upload fed.
type UploadFinishOut struct {
	Bytes      int64         `json:"bytes"`
	SHA256     string        `json:"sha256" jsonschema:"hex SHA-256 of what was uploaded"`
	Attachment *AttachPutOut `json:"attachment,omitempty"`
	State      *WriteOut     `json:"state,omitempty"`
	Message    *EnqueueOut   `json:"message,omitempty"`
}

// UploadIn names an upload.
type UploadIn struct {
	UploadID string `json:"upload_id"`
}

// DownloadReadIn is the input of download_read.
type DownloadReadIn struct {
	StreamID string `json:"stream_id"`
	MaxBytes int64  `json:"max_bytes,omitempty" jsonschema:"chunk size (default 1 MiB)"`
}

// DownloadReadOut is one chunk of a download.
type DownloadReadOut struct {
	StreamID string `json:"stream_id"`
	Offset   int64  `json:"offset" jsonschema:"position of this chunk in the stream"`
	Bytes    int64  `json:"bytes"`
	Base64   string `json:"base64" jsonschema:"the chunk, base64"`
	EOF      bool   `json:"eof" jsonschema:"this was the last chunk; the stream is closed"`
	SHA256   string `json:"sha256,omitempty" jsonschema:"at eof: hex SHA-256 of the whole stream"`
}

// DownloadIn names a download.
type DownloadIn struct {
	StreamID string `json:"stream_id"`
}

// ClosedOut confirms a closed transfer.
type ClosedOut struct {
	Closed bool `json:"closed"`
}

func (f *Facade) addTransferTools() {
	tool(f, &sdkmcp.Tool{Name: "upload_begin", Annotations: mutating("Begin a chunked upload", false),
		Description: "Start streaming a large payload into lockd: an attachment (target attachment), a state document (target state) or a queue message (target queue). " +
			"Then send it with upload_write in order, at most max_chunk_bytes each, and end with upload_finish (or upload_abort). Nothing is buffered whole."}, f.uploadBegin)
	rawTool(f, &sdkmcp.Tool{Name: "upload_write", Annotations: mutating("Write an upload chunk", false),
		Description: "Append the next chunk (base64, or text) to an upload; returns once lockd has taken it."}, f.uploadWrite, nil)
	tool(f, &sdkmcp.Tool{Name: "upload_finish", Annotations: mutating("Finish an upload", false),
		Description: "End an upload and return lockd's answer (the attachment, the staged state or the enqueued message)."}, f.uploadFinish)
	tool(f, &sdkmcp.Tool{Name: "upload_abort", Annotations: mutating("Abort an upload", true),
		Description: "Abandon an upload: lockd discards what it received."}, f.uploadAbort)
	rawTool(f, &sdkmcp.Tool{Name: "download_read", Annotations: &sdkmcp.ToolAnnotations{Title: "Read a download chunk", OpenWorldHint: &no},
		Description: "Read the next chunk of a stream_id returned by state_get, attachment_get or queue_dequeue. Call until eof; the last chunk carries the SHA-256 of the whole stream. " +
			"The chunk is in the structured result (base64); the text content only summarises it."}, f.downloadRead, chunkSummary)
	tool(f, &sdkmcp.Tool{Name: "download_close", Annotations: &sdkmcp.ToolAnnotations{Title: "Close a download", OpenWorldHint: &no},
		Description: "Stop reading a stream_id before its end."}, f.downloadClose)
}

func (f *Facade) uploadBegin(_ context.Context, c *call, in UploadBeginIn) (UploadOut, error) {
	var run func(ctx context.Context, body io.Reader) (any, error)
	switch in.Target {
	case "attachment":
		l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
		if err != nil {
			return UploadOut{}, err
		}
		if in.Name == "" {
			return UploadOut{}, errArg("name is required for target attachment")
		}
		req := sdk.AttachRequest{Name: in.Name, ContentType: in.ContentType, Size: in.ExpectedBytes,
			PreventOverwrite: in.PreventOverwrite, ExpectedSHA256: in.ExpectedSHA256}
		run = func(ctx context.Context, body io.Reader) (any, error) {
			req.Body = body
			res, err := l.ls.Attach(ctx, req)
			if err != nil {
				return nil, err
			}
			out := attachPutOut(res)
			return &out, nil
		}
	case "state":
		l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
		if err != nil {
			return UploadOut{}, err
		}
		opts := in.opts()
		if in.ExpectedSHA256 != "" {
			opts = append(opts, sdk.WithExpectedSHA256(in.ExpectedSHA256))
		}
		if in.ExpectedBytes > 0 {
			opts = append(opts, sdk.WithExpectedBytes(in.ExpectedBytes))
		}
		run = func(ctx context.Context, body io.Reader) (any, error) {
			res, err := l.ls.Update(ctx, body, opts...)
			if err != nil {
				return nil, err
			}
			out := writeOut(res)
			return &out, nil
		}
	case "queue":
		ns, err := c.ns(in.Namespace, tlsutil.AccessWrite)
		if err != nil {
			return UploadOut{}, err
		}
		if in.Queue == "" {
			return UploadOut{}, errArg("queue is required for target queue")
		}
		opts := in.EnqueueOpts.sdk(ns)
		opts.ContentType = in.ContentType // the upload's content_type shadows EnqueueOpts'
		run = func(ctx context.Context, body io.Reader) (any, error) {
			res, err := f.cfg.Client.Enqueue(ctx, in.Queue, body, opts)
			if err != nil {
				return nil, err
			}
			out := enqueueOut(res)
			return &out, nil
		}
	default:
		return UploadOut{}, errArg("target must be attachment, state or queue")
	}
	t, err := c.s.startUpload(run)
	if err != nil {
		return UploadOut{}, err
	}
	return UploadOut{UploadID: t.id, MaxChunkBytes: f.cfg.MaxChunk}, nil
}

func (f *Facade) uploadWrite(ctx context.Context, c *call, in UploadWriteIn) (UploadWriteOut, error) {
	if in.UploadID == "" {
		return UploadWriteOut{}, errArg("upload_id is required")
	}
	t, err := c.s.transfer(in.UploadID, "upload")
	if err != nil {
		return UploadWriteOut{}, err
	}
	if int64(len(in.Base64))/4*3 > f.cfg.MaxChunk+3 || int64(len(in.Text)) > f.cfg.MaxChunk {
		return UploadWriteOut{}, errArg("chunk above max_chunk_bytes; split it")
	}
	data, err := in.bytes()
	if err != nil {
		return UploadWriteOut{}, err
	}
	n, err := t.write(ctx, data, f.cfg.Clock.Now())
	if err != nil {
		c.s.dropTransfer(t.id)
		return UploadWriteOut{}, err
	}
	return UploadWriteOut{UploadID: t.id, Written: n}, nil
}

func (f *Facade) uploadFinish(ctx context.Context, c *call, in UploadIn) (UploadFinishOut, error) {
	t, err := c.s.transfer(in.UploadID, "upload")
	if err != nil {
		return UploadFinishOut{}, err
	}
	res, sum, n, err := t.finish(ctx)
	if ctx.Err() == nil {
		c.s.dropTransfer(t.id)
	}
	if err != nil {
		return UploadFinishOut{}, err
	}
	out := UploadFinishOut{Bytes: n, SHA256: sum}
	switch r := res.(type) {
	case *AttachPutOut:
		out.Attachment = r
	case *WriteOut:
		out.State = r
	case *EnqueueOut:
		out.Message = r
	}
	return out, nil
}

func (f *Facade) uploadAbort(_ context.Context, c *call, in UploadIn) (ClosedOut, error) {
	t, err := c.s.transfer(in.UploadID, "upload")
	if err != nil {
		return ClosedOut{}, err
	}
	c.s.dropTransfer(t.id)
	t.abort()
	return ClosedOut{Closed: true}, nil
}

func (f *Facade) downloadRead(_ context.Context, c *call, in DownloadReadIn) (DownloadReadOut, error) {
	if in.StreamID == "" {
		return DownloadReadOut{}, errArg("stream_id is required")
	}
	t, err := c.s.transfer(in.StreamID, "download")
	if err != nil {
		return DownloadReadOut{}, err
	}
	n := in.MaxBytes
	if n <= 0 {
		n = f.cfg.ChunkBytes
	}
	n = min(n, f.cfg.MaxChunk)
	ch, err := t.read(n, f.cfg.Clock.Now())
	if err != nil || ch.eof {
		c.s.dropTransfer(t.id)
	}
	if err != nil {
		return DownloadReadOut{}, err
	}
	return DownloadReadOut{StreamID: t.id, Offset: ch.offset, Bytes: int64(len(ch.data)),
		Base64: base64.StdEncoding.EncodeToString(ch.data), EOF: ch.eof, SHA256: ch.sha256}, nil
}

func (f *Facade) downloadClose(_ context.Context, c *call, in DownloadIn) (ClosedOut, error) {
	t, err := c.s.transfer(in.StreamID, "download")
	if err != nil {
		return ClosedOut{}, err
	}
	c.s.dropTransfer(t.id)
	t.abort()
	return ClosedOut{Closed: true}, nil
}

// chunkSummary is the text content of a download_read result: the chunk
// itself is only in the structured content.
func chunkSummary(o DownloadReadOut) string {
	s := fmt.Sprintf(`{"stream_id":%q,"offset":%d,"bytes":%d,"eof":%t`, o.StreamID, o.Offset, o.Bytes, o.EOF)
	if o.SHA256 != "" {
		s += fmt.Sprintf(`,"sha256":%q`, o.SHA256)
	}
	return s + `,"base64":"(in structuredContent)"}`
}
