package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

// WriteBlob streams r into the blob. A blob that fits in one part is one
// PutObject; a larger one is a multipart upload (2 + one round trip per
// part) that becomes visible only on completion and is aborted on any
// error, so a failed write leaves the previous blob, or none, in place.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpWriteBlob, name)
	if err != nil {
		return 0, err
	}
	first, eof, err := readPart(ctx, r, nil, int(s.cfg.PartSize))
	if err != nil {
		return 0, fmt.Errorf("s3: write blob %q: %w", name, err)
	}
	key := s.blobName(name)
	if eof && len(first) < int(s.cfg.PartSize) {
		in := &s3.PutObjectInput{
			Bucket: &s.cfg.Bucket, Key: &key,
			Body: bytes.NewReader(first), ContentLength: aws.Int64(int64(len(first))),
		}
		s.setSSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
		if _, err := s.cli.PutObject(ctx, in); err != nil {
			return 0, fmt.Errorf("s3: write blob %q: %w", name, mapErr(err, false))
		}
		return int64(len(first)), nil
	}
	n, err := s.multipart(ctx, key, first, eof, r)
	if err != nil {
		return 0, fmt.Errorf("s3: write blob %q: %w", name, err)
	}
	return n, nil
}

// readPart appends to buf[:0] from r until it holds size bytes or r ends
// (eof). It grows buf gradually, so a small blob never costs a full part.
func readPart(ctx context.Context, r io.Reader, buf []byte, size int) (_ []byte, eof bool, _ error) {
	buf = buf[:0]
	for len(buf) < size {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(max(2*cap(buf), 64<<10), size)), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read: %w", err)
		}
	}
	return buf, false, nil
}

// OpenBlob streams the blob with one GetObject. The caller closes the
// reader.
func (s *Store) OpenBlob(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpOpenBlob, name)
	if err != nil {
		return nil, 0, err
	}
	key := s.blobName(name)
	out, err := s.cli.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		return nil, 0, fmt.Errorf("s3: open blob %q: %w", name, mapErr(err, false))
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// DeleteBlob removes the blob with one DeleteObject; a missing blob is not
// an error.
func (s *Store) DeleteBlob(ctx context.Context, name string) error {
	ctx, _, err := s.beginKey(ctx, objstore.OpDeleteBlob, name)
	if err != nil {
		return err
	}
	key := s.blobName(name)
	_, err = s.cli.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err = mapErr(err, false); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("s3: delete blob %q: %w", name, err)
	}
	return nil
}

// ListBlobs lists blob names like List.
func (s *Store) ListBlobs(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, _, err := s.begin(ctx, objstore.OpListBlobs)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, s.blobBase, prefix, after, limit)
}
