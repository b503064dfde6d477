package queues

import (
	"bytes"
	"context"
	"errors"
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
	head := make([]byte, s.cfg.InlineMax+1)
	n, err := io.ReadFull(body, head)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		p.inline, p.size = head[:n:n], int64(n)
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read payload: %w", err)
	}
	p.blob = keysFor(ref).blob(p.id)
	size, err := s.st.WriteBlob(ctx, p.blob, io.MultiReader(bytes.NewReader(head), body))
	if err != nil {
		return nil, fmt.Errorf("%w: write payload: %v", ErrUnavailable, err)
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

// OpenPayload returns a reader over a delivery's payload and its size. The
// caller closes it.
func (d *Delivery) OpenPayload(ctx context.Context) (io.ReadCloser, int64, error) {
	if d.blob == "" {
		return io.NopCloser(bytes.NewReader(d.inline)), int64(len(d.inline)), nil
	}
	r, n, err := d.svc.st.OpenBlob(ctx, d.blob)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: open payload: %v", ErrUnavailable, err)
	}
	return r, n, nil
}
