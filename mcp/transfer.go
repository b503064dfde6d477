package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"
)

// transfer is an open download (a lockd response read chunk by chunk) or
// upload (a lockd request written chunk by chunk). Calls on one transfer
// are serialised by mu.
type transfer struct {
	id   string
	kind string // "download" or "upload"

	mu     sync.Mutex
	last   time.Time
	offset int64
	sum    hash.Hash
	closed bool

	// download
	src         io.ReadCloser
	size        int64 // -1 when unknown
	contentType string

	// upload
	pw     *io.PipeWriter
	cancel context.CancelFunc
	done   chan struct{}
	result any
	err    error
}

// abort ends the transfer, discarding what is left of it.
func (t *transfer) abort() {
	if t.kind == "download" {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.closed {
			t.closed = true
			t.src.Close()
		}
		return
	}
	t.cancel()
	t.pw.CloseWithError(errAborted)
}

var errAborted = errors.New("mcp: transfer aborted")

// idle reports whether nobody touched t since before.
func (t *transfer) idle(before time.Time) bool {
	if !t.mu.TryLock() {
		return false // in use
	}
	defer t.mu.Unlock()
	return t.last.Before(before)
}

func (s *session) addTransfer(t *transfer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return errSessionEnded
	}
	t.id = newID()
	t.last = s.f.cfg.Clock.Now()
	t.sum = sha256.New()
	s.transfers[t.id] = t
	return nil
}

func (s *session) transfer(id, kind string) (*transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.transfers[id]
	if !ok || t.kind != kind {
		return nil, &ToolError{Code: CodeTransferUnknown, Detail: "no open " + kind + " " + id + " in this session"}
	}
	return t, nil
}

func (s *session) dropTransfer(id string) {
	s.mu.Lock()
	delete(s.transfers, id)
	s.mu.Unlock()
}

// sweepTransfers aborts transfers idle since before.
func (s *session) sweepTransfers(before time.Time) {
	s.mu.Lock()
	var stale []*transfer
	for id, t := range s.transfers {
		if t.idle(before) {
			stale = append(stale, t)
			delete(s.transfers, id)
		}
	}
	s.mu.Unlock()
	for _, t := range stale {
		t.abort()
	}
}

// openDownload registers src as a download of the session.
func (s *session) openDownload(src io.ReadCloser, size int64, contentType string) (*transfer, error) {
	t := &transfer{kind: "download", src: src, size: size, contentType: contentType}
	if err := s.addTransfer(t); err != nil {
		src.Close()
		return nil, err
	}
	return t, nil
}

// chunk is one piece of a download.
type chunk struct {
	data   []byte
	offset int64
	eof    bool
	sha256 string // of the whole stream, at EOF
}

// read reads up to n bytes of the download.
func (t *transfer) read(n int64, now time.Time) (chunk, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = now
	if t.closed {
		return chunk{}, &ToolError{Code: CodeTransferUnknown, Detail: "download " + t.id + " is closed"}
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(t.src, buf)
	c := chunk{data: buf[:got], offset: t.offset}
	t.sum.Write(c.data)
	t.offset += int64(got)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		c.eof, c.sha256 = true, hex.EncodeToString(t.sum.Sum(nil))
		t.closed = true
		t.src.Close()
	case err != nil:
		t.closed = true
		t.src.Close()
		return chunk{}, fmt.Errorf("mcp: read download at offset %d: %w", t.offset, err)
	}
	return c, nil
}

// startUpload registers an upload whose bytes feed run's reader; run is
// the lockd call (attach, update, enqueue) and its result is returned by
// finish.
func (s *session) startUpload(run func(ctx context.Context, body io.Reader) (any, error)) (*transfer, error) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(s.f.base)
	t := &transfer{kind: "upload", pw: pw, cancel: cancel, done: make(chan struct{})}
	if err := s.addTransfer(t); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(t.done)
		t.result, t.err = run(ctx, pr)
		pr.CloseWithError(uploadEnded(t.err))
	}()
	return t, nil
}

// uploadEnded is what writes after the lockd call returned get.
func uploadEnded(err error) error {
	if err != nil {
		return err
	}
	return errors.New("mcp: upload already finished")
}

// write feeds p into the upload; it returns when lockd has taken the bytes.
func (t *transfer) write(ctx context.Context, p []byte, now time.Time) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = now
	if t.closed {
		return 0, &ToolError{Code: CodeTransferUnknown, Detail: "upload " + t.id + " is finished"}
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := t.pw.Write(p)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			<-t.done
			return t.offset, t.failure(err)
		}
	case <-ctx.Done():
		t.pw.CloseWithError(ctx.Err())
		<-wrote
		return t.offset, ctx.Err()
	}
	t.sum.Write(p)
	t.offset += int64(len(p))
	return t.offset, nil
}

// failure is why the upload stopped: lockd's answer when there is one.
func (t *transfer) failure(writeErr error) error {
	if t.err != nil {
		return t.err
	}
	return writeErr
}

// finish ends the body and waits for lockd's answer.
func (t *transfer) finish(ctx context.Context) (any, string, int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.pw.Close()
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return nil, "", 0, ctx.Err()
	}
	return t.result, hex.EncodeToString(t.sum.Sum(nil)), t.offset, t.err
}
