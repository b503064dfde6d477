package azure

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

// WriteBlob streams r into the blob with UploadStream: a blob smaller than
// one block is one Put Blob; a larger one is one Put Block per block plus
// one Put Block List, which makes it visible atomically. A failed write
// commits nothing.
func (s *Store) WriteBlob(ctx context.Context, name string, r io.Reader) (int64, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpWriteBlob, name)
	if err != nil {
		return 0, err
	}
	cr := &countingReader{ctx: ctx, r: r}
	_, err = s.blobBlob(name).UploadStream(ctx, cr, &blockblob.UploadStreamOptions{
		BlockSize:   s.cfg.BlockSize,
		Concurrency: s.cfg.Concurrency,
	})
	if err != nil {
		return 0, fmt.Errorf("azure: write blob %q: %w", name, mapErr(err, false))
	}
	return cr.n, nil
}

// countingReader counts bytes read and stops when ctx is done.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenBlob streams the blob with one Get Blob. The caller closes the
// reader.
func (s *Store) OpenBlob(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpOpenBlob, name)
	if err != nil {
		return nil, 0, err
	}
	resp, err := s.blobBlob(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("azure: open blob %q: %w", name, mapErr(err, false))
	}
	var size int64
	if resp.ContentLength != nil {
		size = *resp.ContentLength
	}
	return resp.Body, size, nil
}

// DeleteBlob removes the blob with one Delete Blob; a missing blob is not
// an error.
func (s *Store) DeleteBlob(ctx context.Context, name string) error {
	ctx, _, err := s.beginKey(ctx, objstore.OpDeleteBlob, name)
	if err != nil {
		return err
	}
	_, err = s.blobBlob(name).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: ptr(blob.DeleteSnapshotsOptionTypeInclude)})
	if err = mapErr(err, false); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("azure: delete blob %q: %w", name, err)
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
