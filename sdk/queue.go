package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// EnqueueOptions describe a message.
type EnqueueOptions struct {
	// Namespace defaults to the client's.
	Namespace string
	// Delay hides the message for a while after enqueueing.
	Delay time.Duration
	// Visibility is how long a delivery stays invisible to others before
	// it is redelivered (default: the server's).
	Visibility time.Duration
	// TTL moves an undelivered message to the dead-letter queue.
	TTL time.Duration
	// MaxAttempts is how many failed deliveries move it to the DLQ.
	MaxAttempts int
	// Attributes are stored with the message and returned on delivery.
	Attributes map[string]any
	// ContentType of the payload (default application/octet-stream).
	ContentType string
}

// seconds rounds a duration up to whole seconds (0 stays 0).
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Enqueue adds a message whose payload is streamed from payload (nil: an
// empty payload). The body is a multipart/form-data stream, so it is sent
// once (not retried) unless payload is an io.Seeker.
func (c *Client) Enqueue(ctx context.Context, queue string, payload io.Reader, opts EnqueueOptions) (*api.EnqueueResponse, error) {
	meta := api.EnqueueRequest{Namespace: c.ns(opts.Namespace), Queue: queue, DelaySeconds: seconds(opts.Delay),
		VisibilityTimeoutSeconds: seconds(opts.Visibility), TTLSeconds: seconds(opts.TTL),
		MaxAttempts: int64(opts.MaxAttempts), Attributes: opts.Attributes, PayloadContentType: opts.ContentType}
	if meta.PayloadContentType == "" {
		meta.PayloadContentType = "application/octet-stream"
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("lockd: encode enqueue meta: %w", err)
	}
	r := newCall(http.MethodPost, "/v1/queue/enqueue")
	r.query.Set("queue", queue)
	boundary := multipart.NewWriter(io.Discard).Boundary()
	r.contentType = "multipart/form-data; boundary=" + boundary
	r.stream = &multipartStream{meta: metaJSON, payload: payload, ctype: meta.PayloadContentType, boundary: boundary}
	var out api.EnqueueResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// multipartStream encodes the meta and payload parts of an enqueue as
// they are read. It is an io.Seeker (rewinding to the start) when the
// payload is one, so that retries can replay it.
type multipartStream struct {
	meta     []byte
	payload  io.Reader
	ctype    string
	boundary string
	start    int64
	pr       *io.PipeReader
	done     chan struct{} // closed when the writer of pr has returned
}

func (m *multipartStream) Read(p []byte) (int, error) {
	if m.pr == nil {
		pr, pw := io.Pipe()
		m.pr, m.done = pr, make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			pw.CloseWithError(m.write(pw))
		}(m.done)
	}
	return m.pr.Read(p)
}

func (m *multipartStream) write(w io.Writer) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(m.boundary); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="meta"`)
	h.Set("Content-Type", "application/json")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := part.Write(m.meta); err != nil {
		return err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", m.ctype)
	if part, err = mw.CreatePart(h); err != nil {
		return err
	}
	if m.payload != nil {
		if _, err := io.Copy(part, m.payload); err != nil {
			return fmt.Errorf("lockd: read payload: %w", err)
		}
	}
	return mw.Close()
}

// Seek rewinds the stream to its start (the only seek supported), for
// replays.
func (m *multipartStream) Seek(offset int64, whence int) (int64, error) {
	s, ok := m.payload.(io.Seeker)
	if m.payload != nil && !ok {
		return 0, fmt.Errorf("lockd: payload cannot be replayed")
	}
	if whence == io.SeekCurrent && offset == 0 && m.pr == nil {
		if ok {
			off, err := s.Seek(0, io.SeekCurrent)
			m.start = off
			return 0, err
		}
		return 0, nil
	}
	if whence != io.SeekStart || offset != 0 {
		return 0, fmt.Errorf("lockd: multipart stream only rewinds")
	}
	if m.pr != nil {
		m.pr.CloseWithError(io.ErrClosedPipe)
		<-m.done // the writer no longer touches the payload
		m.pr = nil
	}
	if ok {
		if _, err := s.Seek(m.start, io.SeekStart); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// QueueAck acknowledges a delivery by its identifiers (what Ack of a
// QueueMessage sends); the message is deleted.
func (c *Client) QueueAck(ctx context.Context, req api.AckRequest) (*api.AckResponse, error) {
	req.Namespace = c.ns(req.Namespace)
	var out api.AckResponse
	if err := c.queueJSON(ctx, "/v1/queue/ack", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueueNack returns a delivery to the queue by its identifiers.
func (c *Client) QueueNack(ctx context.Context, req api.NackRequest) (*api.NackResponse, error) {
	req.Namespace = c.ns(req.Namespace)
	var out api.NackResponse
	if err := c.queueJSON(ctx, "/v1/queue/nack", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueueExtend extends a delivery's visibility (and lease) by its
// identifiers.
func (c *Client) QueueExtend(ctx context.Context, req api.ExtendRequest) (*api.ExtendResponse, error) {
	req.Namespace = c.ns(req.Namespace)
	var out api.ExtendResponse
	if err := c.queueJSON(ctx, "/v1/queue/extend", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueueStats describes a queue: ready, delayed and in-flight counts, its
// head message and consumers.
func (c *Client) QueueStats(ctx context.Context, queue string, opts ...KeyOption) (*api.QueueStatsResponse, error) {
	var o keyOpts
	for _, f := range opts {
		f(&o)
	}
	var out api.QueueStatsResponse
	req := api.QueueStatsRequest{Namespace: c.ns(o.namespace), Queue: queue}
	if err := c.queueJSON(ctx, "/v1/queue/stats", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueueDLQList lists a page of a queue's dead letters (lockd extension).
func (c *Client) QueueDLQList(ctx context.Context, req api.QueueDLQListRequest) (*api.QueueDLQListResponse, error) {
	req.Namespace = c.ns(req.Namespace)
	var out api.QueueDLQListResponse
	if err := c.queueJSON(ctx, "/v1/queue/dlq/list", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueueDLQRequeue moves dead letters back into their queue (lockd
// extension).
func (c *Client) QueueDLQRequeue(ctx context.Context, req api.QueueDLQRequeueRequest) (*api.QueueDLQRequeueResponse, error) {
	req.Namespace = c.ns(req.Namespace)
	var out api.QueueDLQRequeueResponse
	if err := c.queueJSON(ctx, "/v1/queue/dlq/requeue", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) queueJSON(ctx context.Context, path string, in, out any) error {
	r := newCall(http.MethodPost, path)
	if err := r.jsonBody(in); err != nil {
		return err
	}
	_, err := c.doJSON(ctx, r, out)
	return err
}
