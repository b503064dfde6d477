package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// DequeueOptions control a dequeue.
type DequeueOptions struct {
	// Namespace defaults to the client's.
	Namespace string
	// Owner identifies the consumer (required by the server).
	Owner string
	// Visibility is how long the delivery stays leased to this consumer
	// (default: the message's).
	Visibility time.Duration
	// BlockSeconds says how long to wait for a message: BlockWaitForever
	// (0) until ctx ends, BlockNoWait (-1) not at all, n > 0 about n
	// seconds. A wait that runs out is ErrWaiting.
	BlockSeconds int64
	// PageSize is how many messages DequeueBatch may return (1–64).
	PageSize int
	// StartAfter skips messages up to this cursor.
	StartAfter string
	// TxnID enlists the deliveries in a transaction.
	TxnID string
}

// Dequeue leases the next message of queue. Read its payload, then Ack,
// Nack or Close it.
func (c *Client) Dequeue(ctx context.Context, queue string, opts DequeueOptions) (*QueueMessage, error) {
	opts.PageSize = 1
	msgs, err := c.dequeue(ctx, "/v1/queue/dequeue", queue, opts)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// DequeueWithState leases the next message and its workflow state (see
// QueueMessage.State).
func (c *Client) DequeueWithState(ctx context.Context, queue string, opts DequeueOptions) (*QueueMessage, error) {
	opts.PageSize = 1
	msgs, err := c.dequeue(ctx, "/v1/queue/dequeueWithState", queue, opts)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// DequeueBatch leases up to opts.PageSize messages in one request. Their
// payloads are buffered (in memory, large ones in temporary files) until
// each message is settled or closed.
func (c *Client) DequeueBatch(ctx context.Context, queue string, opts DequeueOptions) ([]*QueueMessage, error) {
	return c.dequeue(ctx, "/v1/queue/dequeue", queue, opts)
}

func (c *Client) dequeue(ctx context.Context, path, queue string, opts DequeueOptions) ([]*QueueMessage, error) {
	req := api.DequeueRequest{Namespace: c.ns(opts.Namespace), Queue: queue, Owner: opts.Owner,
		VisibilityTimeoutSeconds: seconds(opts.Visibility), PageSize: int64(max(opts.PageSize, 1)),
		StartAfter: opts.StartAfter, TxnID: opts.TxnID, WaitSeconds: opts.BlockSeconds}
	forever := opts.BlockSeconds == BlockWaitForever
	for {
		if forever {
			req.WaitSeconds = c.waitSlice(ctx)
		}
		r := newCall(http.MethodPost, path)
		if err := r.jsonBody(req); err != nil {
			return nil, err
		}
		if req.WaitSeconds > 0 {
			r.wait = time.Duration(req.WaitSeconds) * time.Second
		}
		resp, err := c.do(ctx, r)
		if err == nil {
			return c.readDeliveries(resp, req.PageSize == 1)
		}
		if !forever || req.WaitSeconds == BlockNoWait || !errors.Is(err, ErrWaiting) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// readDeliveries parses a multipart/related answer: per message a "meta"
// part ({"message":…,"next_cursor":…}) and a "payload" part. A single
// message streams its payload from the response; several are buffered.
func (c *Client) readDeliveries(resp *http.Response, stream bool) ([]*QueueMessage, error) {
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		resp.Body.Close()
		return nil, fmt.Errorf("lockd: dequeue answered %q, want multipart/related", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var out []*QueueMessage
	fail := func(err error) ([]*QueueMessage, error) {
		for _, m := range out {
			m.ClosePayload()
		}
		resp.Body.Close()
		return nil, fmt.Errorf("lockd: read deliveries: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if !strings.HasPrefix(part.FormName(), "meta") {
			return fail(fmt.Errorf("unexpected part %q before a meta part", part.FormName()))
		}
		var meta api.DequeueResponse
		if err := json.NewDecoder(part).Decode(&meta); err != nil {
			return fail(fmt.Errorf("meta part: %w", err))
		}
		m := c.newQueueMessage(meta)
		out = append(out, m)
		if part, err = mr.NextPart(); err != nil {
			return fail(fmt.Errorf("payload part of %s: %w", meta.Message.MessageID, err))
		}
		payload := payloadReader(part, part.Header, meta.Message.PayloadBytes)
		if stream {
			m.payload = &partBody{Reader: payload, body: resp.Body}
			return out, nil
		}
		if m.payload, err = spool(payload); err != nil {
			return fail(err)
		}
	}
	resp.Body.Close()
	if len(out) == 0 {
		return nil, errors.New("lockd: dequeue answered no message")
	}
	return out, nil
}

// payloadReader bounds a payload part by its Content-Length (else the
// message's payload_bytes), so that reading it never waits for the
// delimiter that follows it. A part that ends before that size is an
// io.ErrUnexpectedEOF, never a shorter payload.
func payloadReader(part io.Reader, header textproto.MIMEHeader, size int64) io.Reader {
	if n, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		size = n
	}
	if size < 0 {
		return part
	}
	return &exactReader{r: part, left: size}
}

// exactReader reads exactly left bytes of r.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && e.left == 0 {
		err = io.EOF
	}
	return n, err
}

// partBody is a streamed payload part; closing it ends the response.
type partBody struct {
	io.Reader
	body io.ReadCloser
}

func (p *partBody) Close() error { return p.body.Close() }
