package sdk

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/lockdhq/lockd/sdk/api"
)

// AttachRequest is a file to attach to the leased key.
type AttachRequest struct {
	// Name identifies the attachment within the key (required).
	Name string
	// ContentType is stored with it (default application/octet-stream).
	ContentType string
	// Body is streamed to the server; an io.Seeker is replayed on retries.
	Body io.Reader
	// Size is Body's length when known (sent as Content-Length).
	Size int64
	// MaxBytes lowers the server's size limit for this upload.
	MaxBytes int64
	// PreventOverwrite keeps an existing attachment of that name (the
	// answer then has Noop set).
	PreventOverwrite bool
	// ExpectedSHA256 (hex) has the server verify the body.
	ExpectedSHA256 string
}

// AttachmentSelector picks an attachment by Name or ID.
type AttachmentSelector struct {
	Name string
	ID   string
}

func (a AttachmentSelector) apply(r *call) {
	if a.Name != "" {
		r.query.Set("name", a.Name)
	}
	if a.ID != "" {
		r.query.Set("id", a.ID)
	}
}

// Attachment is a retrieved attachment: its description and its bytes as
// a stream. Read it and Close it.
type Attachment struct {
	api.AttachmentInfo
	body    io.ReadCloser
	onClose func()
	once    sync.Once
}

// Read reads the attachment's bytes.
func (a *Attachment) Read(p []byte) (int, error) { return a.body.Read(p) }

// Close releases the response; it is safe to call more than once.
func (a *Attachment) Close() error {
	var err error
	a.once.Do(func() {
		err = a.body.Close()
		if a.onClose != nil {
			a.onClose()
		}
	})
	return err
}

func attachmentFrom(resp *http.Response) *Attachment {
	h := resp.Header
	a := &Attachment{body: resp.Body}
	a.ID, a.Name = h.Get(api.HeaderAttachmentID), h.Get(api.HeaderAttachmentName)
	a.ContentType, a.PlaintextSHA256 = h.Get("Content-Type"), h.Get(api.HeaderAttachmentSHA256)
	a.Size, _ = strconv.ParseInt(h.Get(api.HeaderAttachmentSize), 10, 64)
	a.CreatedAtUnix = unixOf(h.Get(api.HeaderAttachmentCreatedAt))
	a.UpdatedAtUnix = unixOf(h.Get(api.HeaderAttachmentUpdatedAt))
	return a
}

func unixOf(v string) int64 {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.Unix()
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// Attach stages an attachment under the lease (visible to public reads
// after the release commits it).
func (s *LeaseSession) Attach(ctx context.Context, req AttachRequest) (*api.AttachResponse, error) {
	r := s.leaseCall(http.MethodPost, "/v1/attachments")
	r.query.Set("name", req.Name)
	r.contentType = req.ContentType
	if r.contentType == "" {
		r.contentType = "application/octet-stream"
	}
	r.query.Set("content_type", r.contentType)
	if req.MaxBytes > 0 {
		r.query.Set("max_bytes", strconv.FormatInt(req.MaxBytes, 10))
	}
	if req.PreventOverwrite {
		r.query.Set("prevent_overwrite", "1")
	}
	if req.ExpectedSHA256 != "" {
		r.header.Set(api.HeaderExpectedSHA256, req.ExpectedSHA256)
	}
	r.stream, r.size = req.Body, req.Size
	if r.stream == nil {
		r.body = []byte{}
	}
	var out api.AttachResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAttachments lists the attachments as the lease sees them (staged
// changes included).
func (s *LeaseSession) ListAttachments(ctx context.Context) ([]api.AttachmentInfo, error) {
	var out api.AttachmentListResponse
	if _, err := s.doJSON(ctx, s.leaseCall(http.MethodGet, "/v1/attachments"), &out); err != nil {
		return nil, err
	}
	return out.Attachments, nil
}

// RetrieveAttachment streams an attachment as the lease sees it. Close it.
func (s *LeaseSession) RetrieveAttachment(ctx context.Context, sel AttachmentSelector) (*Attachment, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	r := s.leaseCall(http.MethodGet, "/v1/attachment")
	sel.apply(r)
	resp, err := s.c.do(s.ctx(ctx), r)
	if err != nil {
		s.end()
		return nil, err
	}
	a := attachmentFrom(resp)
	a.onClose = s.end
	return a, nil
}

// DeleteAttachment stages the removal of one attachment.
func (s *LeaseSession) DeleteAttachment(ctx context.Context, sel AttachmentSelector) (*api.DeleteAttachmentResponse, error) {
	r := s.leaseCall(http.MethodDelete, "/v1/attachment")
	sel.apply(r)
	var out api.DeleteAttachmentResponse
	if _, err := s.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAllAttachments stages the removal of every attachment of the key.
func (s *LeaseSession) DeleteAllAttachments(ctx context.Context) (*api.DeleteAllAttachmentsResponse, error) {
	var out api.DeleteAllAttachmentsResponse
	if _, err := s.doJSON(ctx, s.leaseCall(http.MethodDelete, "/v1/attachments"), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAttachments lists a key's committed attachments without a lease.
func (c *Client) ListAttachments(ctx context.Context, key string, opts ...KeyOption) ([]api.AttachmentInfo, error) {
	r := c.keyCall(http.MethodGet, "/v1/attachments", key, opts)
	r.query.Set("public", "1")
	var out api.AttachmentListResponse
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Attachments, nil
}

// RetrieveAttachment streams a committed attachment without a lease.
// Close it.
func (c *Client) RetrieveAttachment(ctx context.Context, key string, sel AttachmentSelector, opts ...KeyOption) (*Attachment, error) {
	r := c.keyCall(http.MethodGet, "/v1/attachment", key, opts)
	r.query.Set("public", "1")
	sel.apply(r)
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return attachmentFrom(resp), nil
}

// ListAttachments lists the committed attachments of the key read.
func (g *GetResponse) ListAttachments(ctx context.Context) ([]api.AttachmentInfo, error) {
	return g.c.ListAttachments(ctx, g.Key, WithNamespace(g.Namespace))
}

// RetrieveAttachment streams a committed attachment of the key read.
func (g *GetResponse) RetrieveAttachment(ctx context.Context, sel AttachmentSelector) (*Attachment, error) {
	return g.c.RetrieveAttachment(ctx, g.Key, sel, WithNamespace(g.Namespace))
}
