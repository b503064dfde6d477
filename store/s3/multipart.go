package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// upload is one multipart upload in progress. At most Concurrency parts
// are in flight and one more is being filled, each in its own buffer.
type upload struct {
	s    *Store
	key  string
	id   *string
	slot chan struct{} // one token per part in flight
	free chan []byte   // buffers of finished parts, for reuse
	bufs int           // buffers allocated so far

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // first part failure
	wg    sync.WaitGroup
}

// multipart uploads first, then the rest of r, and completes the upload.
func (s *Store) multipart(ctx context.Context, key string, first []byte, eof bool, r io.Reader) (int64, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key}
	s.setSSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	out, err := s.cli.CreateMultipartUpload(ctx, in)
	if err != nil {
		return 0, mapErr(err, false)
	}
	conc := s.cfg.Concurrency
	u := &upload{s: s, key: key, id: out.UploadId, slot: make(chan struct{}, conc), free: make(chan []byte, conc+1), bufs: 1}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, err := u.send(ctx, first, eof, r)
	if err != nil {
		cancel() // stop the parts in flight
	}
	u.wg.Wait()
	if err == nil {
		err = u.failure()
	}
	if err == nil {
		err = u.complete(ctx)
	}
	if err != nil {
		u.abort(ctx)
		return 0, err
	}
	return n, nil
}

// send reads r part by part and starts an upload for each.
func (u *upload) send(ctx context.Context, buf []byte, eof bool, r io.Reader) (int64, error) {
	var n int64
	for num := int32(1); ; num++ {
		if num > maxParts {
			return 0, fmt.Errorf("blob exceeds %d parts of %d bytes", maxParts, u.s.cfg.PartSize)
		}
		select {
		case u.slot <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if err := u.failure(); err != nil {
			return 0, err
		}
		u.wg.Add(1)
		go u.part(ctx, num, buf)
		n += int64(len(buf))
		if eof {
			return n, nil
		}
		next, err := u.buffer(ctx)
		if err != nil {
			return 0, err
		}
		if buf, eof, err = readPart(ctx, r, next, int(u.s.cfg.PartSize)); err != nil {
			return 0, err
		}
		if len(buf) == 0 {
			return n, nil // r ended exactly on a part boundary
		}
	}
}

// buffer returns a part buffer: a new one while fewer than Concurrency+1
// exist, else the next one a finished part gives back.
func (u *upload) buffer(ctx context.Context) ([]byte, error) {
	select {
	case b := <-u.free:
		return b, nil
	default:
	}
	if u.bufs <= cap(u.slot) {
		u.bufs++
		return make([]byte, 0, u.s.cfg.PartSize), nil
	}
	select {
	case b := <-u.free:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// part uploads one part, then frees its slot and buffer.
func (u *upload) part(ctx context.Context, num int32, buf []byte) {
	defer u.wg.Done()
	defer func() { <-u.slot }()
	defer func() { u.free <- buf[:0] }()
	out, err := u.s.cli.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &u.s.cfg.Bucket, Key: &u.key, UploadId: u.id, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf))),
	})
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		if u.err == nil {
			u.err = fmt.Errorf("part %d: %w", num, mapErr(err, false))
		}
		return
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
}

func (u *upload) failure() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *upload) complete(ctx context.Context) error {
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := u.s.cli.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &u.s.cfg.Bucket, Key: &u.key, UploadId: u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return fmt.Errorf("complete: %w", mapErr(err, false))
	}
	return nil
}

// abort discards the uploaded parts, even when ctx is already cancelled.
// If it fails the parts stay invisible until a lifecycle rule removes them.
func (u *upload) abort(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	u.s.cli.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &u.s.cfg.Bucket, Key: &u.key, UploadId: u.id})
}
