package keyspace

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
)

// Attachment errors.
var (
	ErrAttachmentTooLarge    = errors.New("keyspace: attachment too large")
	ErrAttachmentNotFound    = errors.New("keyspace: attachment not found")
	ErrExpectedSHA256        = errors.New("keyspace: attachment sha256 does not match X-Expected-SHA256")
	ErrExpectedBytes         = errors.New("keyspace: attachment size does not match X-Expected-Bytes")
	ErrInvalidAttachmentName = errors.New("keyspace: invalid attachment name")
)

// MaxAttachmentName is the longest attachment name accepted.
const MaxAttachmentName = 255

// AttachRequest uploads an attachment under a lease.
type AttachRequest struct {
	Ref
	LeaseProof
	Name        string
	ContentType string
	Body        io.Reader
	// MaxBytes caps the upload (the service's AttachmentMax applies too).
	MaxBytes int64
	// ExpectedSHA256 (hex) and ExpectedBytes (>= 0) are checked before the
	// upload is staged; -1 / "" skip the check.
	ExpectedSHA256   string
	ExpectedBytes    int64
	PreventOverwrite bool
}

// ValidAttachmentName checks an attachment name: 1–255 bytes, no control
// characters, no '/'.
func ValidAttachmentName(name string) error {
	if name == "" || len(name) > MaxAttachmentName || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("%w: %q", ErrInvalidAttachmentName, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in %q", ErrInvalidAttachmentName, name)
		}
	}
	return nil
}

// Attach streams an upload to a blob and stages it. A failed, oversized,
// truncated or mismatched upload leaves nothing behind.
func (s *Service) Attach(ctx context.Context, req AttachRequest) (AttachResult, error) {
	if err := ValidAttachmentName(req.Name); err != nil {
		return AttachResult{}, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	att := &attachment{ID: id, Name: req.Name, ContentType: req.ContentType, Blob: attachmentBlob(req.Ref, id)}
	if _, err := s.call(ctx, req.Ref, &opCheck{LeaseProof: req.LeaseProof, blob: att.Blob}); err != nil {
		return AttachResult{}, err
	}
	limit := s.cfg.AttachmentMax
	if req.MaxBytes > 0 && req.MaxBytes < limit {
		limit = req.MaxBytes
	}
	m := &meter{r: req.Body, limit: limit, h: newHashPipe()}
	defer m.h.Close()
	if _, err := s.st.WriteBlob(ctx, att.Blob, m); err != nil {
		s.forget(req.Ref, att.Blob)
		if m.over {
			return AttachResult{}, fmt.Errorf("%w: limit is %d bytes", ErrAttachmentTooLarge, limit)
		}
		return AttachResult{}, fmt.Errorf("%w: upload: %w", ErrUnavailable, err)
	}
	att.Size, att.SHA256 = m.n, hex.EncodeToString(m.h.Sum())
	if err := checkExpected(req, att); err != nil {
		s.forget(req.Ref, att.Blob)
		s.deleteBlobs([]string{att.Blob})
		return AttachResult{}, err
	}
	now := s.clock.Now().Unix()
	att.Created, att.Updated = now, now
	v, err := s.call(ctx, req.Ref, &opAttach{LeaseProof: req.LeaseProof, att: att, preventOverwrite: req.PreventOverwrite})
	if err != nil {
		s.deleteBlobs([]string{att.Blob})
		return AttachResult{}, err
	}
	res := v.(AttachResult)
	attachUploads.Inc()
	attachBytesIn.AddInt64(att.Size)
	if res.Noop {
		s.deleteBlobs([]string{att.Blob})
	}
	return res, nil
}

func checkExpected(req AttachRequest, att *attachment) error {
	if req.ExpectedBytes >= 0 && att.Size != req.ExpectedBytes {
		return fmt.Errorf("%w: received %d bytes, expected %d", ErrExpectedBytes, att.Size, req.ExpectedBytes)
	}
	if req.ExpectedSHA256 != "" && !strings.EqualFold(att.SHA256, req.ExpectedSHA256) {
		return fmt.Errorf("%w: got %s", ErrExpectedSHA256, att.SHA256)
	}
	return nil
}

func attachmentBlob(r Ref, id string) string {
	return r.Namespace + "/a/" + r.Key + ":" + id
}

// meter counts and hashes a stream and fails it past limit.
type meter struct {
	r     io.Reader
	n     int64
	limit int64
	h     *hashPipe
	over  bool
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.h.Write(p[:n])
	if m.limit > 0 && m.n > m.limit {
		m.over = true
		return n, ErrAttachmentTooLarge
	}
	return n, err
}

// AttachmentMax is the largest attachment the service accepts.
func (s *Service) AttachmentMax() int64 { return s.cfg.AttachmentMax }

// Detach stages the deletion of one attachment (by name, or by id when name
// is empty) and reports how many were deleted (0 or 1).
func (s *Service) Detach(ctx context.Context, ref Ref, p LeaseProof, name, id string) (DetachResult, error) {
	v, err := s.call(ctx, ref, &opDetach{LeaseProof: p, name: name, id: id})
	if err != nil {
		return DetachResult{}, err
	}
	return v.(DetachResult), nil
}

// DetachAll stages the deletion of every attachment.
func (s *Service) DetachAll(ctx context.Context, ref Ref, p LeaseProof) (DetachResult, error) {
	v, err := s.call(ctx, ref, &opDetachAll{LeaseProof: p})
	if err != nil {
		return DetachResult{}, err
	}
	return v.(DetachResult), nil
}

// Attachments lists the holder's attachments (with a proof) or the
// committed ones (public), sorted by name.
func (s *Service) Attachments(ctx context.Context, ref Ref, public bool, p LeaseProof) ([]Attachment, error) {
	v, err := s.call(ctx, ref, &opAttachments{public: public, LeaseProof: p})
	if err != nil {
		return nil, err
	}
	return v.([]Attachment), nil
}

// OpenAttachment finds an attachment by name (or id) and opens its bytes.
// The caller closes the reader.
func (s *Service) OpenAttachment(ctx context.Context, ref Ref, public bool, p LeaseProof, name, id string) (Attachment, io.ReadCloser, error) {
	for try := 0; ; try++ {
		list, err := s.Attachments(ctx, ref, public, p)
		if err != nil {
			return Attachment{}, nil, err
		}
		var found *Attachment
		for i := range list {
			if (name != "" && list[i].Name == name) || (name == "" && list[i].ID == id) {
				found = &list[i]
			}
		}
		if found == nil {
			return Attachment{}, nil, ErrAttachmentNotFound
		}
		r, _, err := s.st.OpenBlob(ctx, found.blob)
		if err == nil {
			attachReads.Inc()
			return *found, &countingBody{rc: r}, nil
		}
		if try >= 2 { // a commit replaced it between the lookup and the open
			return Attachment{}, nil, fmt.Errorf("%w: open attachment: %w", ErrUnavailable, err)
		}
	}
}
