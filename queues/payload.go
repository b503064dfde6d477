package queues

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// Payload is a message body stored ahead of its enqueue: small bodies are
// kept in memory for the record, larger ones are streamed to a blob. A
// payload that is not enqueued must be discarded.
type Payload struct {
	id     string
	ref    Ref
	inline []byte
	blob   string
	size   int64
	svc    *Service
}

// Size is the payload's length in bytes.
func (p *Payload) Size() int64 { return p.size }

// Prepare stores body for a message of ref: up to InlineMax bytes stay in
// memory, a longer body streams to a blob (durable when Prepare returns)
// without being buffered whole.
func (s *Service) Prepare(ctx context.Context, ref Ref, body io.Reader) (*Payload, error) {
	p := &Payload{id: s.cfg.NewMessageID(), ref: ref, svc: s}
	if body == nil {
		return p, nil
	}
	head, err := io.ReadAll(io.LimitReader(body, s.cfg.InlineMax+1))
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	if int64(len(head)) <= s.cfg.InlineMax {
		p.inline, p.size = head, int64(len(head))
		return p, nil
	}
	p.blob = keysFor(ref).blob(p.id)
	size, err := s.st.WriteBlob(ctx, p.blob, io.MultiReader(bytes.NewReader(head), body))
	if err != nil {
		return nil, fmt.Errorf("%w: write payload: %w", ErrUnavailable, err)
	}
	p.size = size
	return p, nil
}

// Discard deletes a prepared payload that will not be enqueued.
func (p *Payload) Discard() {
	if p == nil || p.blob == "" {
		return
	}
	ctx, cancel := storeCtx()
	defer cancel()
	_ = p.svc.st.DeleteBlob(ctx, p.blob)
}

// Inline returns the payload when it is small enough to be kept in the
// message record (and so in memory); else ok is false and OpenPayload
// streams it.
func (d *Delivery) Inline() (payload []byte, ok bool) { return d.inline, d.blob == "" }

// OpenPayload returns a reader over a delivery's payload and its size. The
// caller closes it.
func (d *Delivery) OpenPayload(ctx context.Context) (io.ReadCloser, int64, error) {
	if d.blob == "" {
		return io.NopCloser(bytes.NewReader(d.inline)), int64(len(d.inline)), nil
	}
	r, n, err := d.svc.st.OpenBlob(ctx, d.blob)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: open payload: %w", ErrUnavailable, err)
	}
	return r, n, nil
}
