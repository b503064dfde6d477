package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

// nonceKey is the metadata name of a record's write nonce.
const nonceKey = "lockdnonce"

// quote and unquote convert between the header form of an ETag ("0x…")
// and the bare form callers see.
func quote(etag string) *azcore.ETag {
	e := azcore.ETag(`"` + etag + `"`)
	return &e
}

func unquote(etag *azcore.ETag) string {
	if etag == nil {
		return ""
	}
	return strings.Trim(string(*etag), `"`)
}

// Get returns the record under key, or store.ErrNotFound. One round trip.
func (s *Store) Get(ctx context.Context, key string) (store.Record, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpGet, key)
	if err != nil {
		return store.Record{}, err
	}
	resp, err := s.recBlob(key).DownloadStream(ctx, nil)
	if err != nil {
		return store.Record{}, fmt.Errorf("azure: get %q: %w", key, mapErr(err, false))
	}
	defer resp.Body.Close()
	value, err := io.ReadAll(resp.Body)
	if err != nil {
		return store.Record{}, fmt.Errorf("azure: get %q: %w", key, err)
	}
	return store.Record{Value: value, ETag: unquote(resp.ETag)}, nil
}

// Put writes the record with one conditional Put Blob and returns its new
// ETag. A failed condition is never retried; when an earlier try of the
// same call may have succeeded unseen, one GetProperties compares the
// nonce to tell our own write from another's.
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	ctx, cl, err := s.beginKey(ctx, objstore.OpPut, key)
	if err != nil {
		return "", err
	}
	if cond.IfNotExists && cond.IfMatch != "" {
		return "", fmt.Errorf("azure: put %q: IfMatch on a key required absent: %w", key, store.ErrConflict)
	}
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	mac := &blob.ModifiedAccessConditions{}
	switch {
	case cond.IfNotExists:
		mac.IfNoneMatch = ptr(azcore.ETagAny)
	case cond.IfMatch != "":
		mac.IfMatch = quote(cond.IfMatch)
	}
	bb := s.recBlob(key)
	resp, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(value)), &blockblob.UploadOptions{
		Metadata:         map[string]*string{nonceKey: &nonce},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: mac},
	})
	if err == nil {
		return unquote(resp.ETag), nil
	}
	conditional := cond.IfNotExists || cond.IfMatch != ""
	err = mapErr(err, conditional)
	switch {
	case errors.Is(err, store.ErrNotFound) && cond.IfMatch != "":
		err = errMissingForCond
	case errors.Is(err, store.ErrConflict) && cl.Trips() > 1:
		if etag, ok := s.ownWrite(ctx, bb, nonce); ok {
			return etag, nil
		}
	}
	return "", fmt.Errorf("azure: put %q: %w", key, err)
}

// ownWrite reports whether the blob's current version carries nonce.
func (s *Store) ownWrite(ctx context.Context, bb *blockblob.Client, nonce string) (string, bool) {
	props, err := bb.GetProperties(ctx, nil)
	if err != nil {
		return "", false
	}
	for k, v := range props.Metadata {
		if strings.EqualFold(k, nonceKey) && v != nil && *v == nonce {
			return unquote(props.ETag), true
		}
	}
	return "", false
}

// Delete removes the record with one Delete Blob (If-Match when set). A
// missing key with IfMatch fails with an error that is both
// store.ErrConflict and store.ErrNotFound. IfNotExists costs one
// GetProperties and fails when the key exists.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	ctx, _, err := s.beginKey(ctx, objstore.OpDelete, key)
	if err != nil {
		return err
	}
	bb := s.recBlob(key)
	switch {
	case cond.IfNotExists && cond.IfMatch != "":
		return fmt.Errorf("azure: delete %q: IfMatch on a key required absent: %w", key, store.ErrConflict)
	case cond.IfNotExists:
		_, err := bb.GetProperties(ctx, nil)
		if err == nil {
			return fmt.Errorf("azure: delete %q: exists: %w", key, store.ErrConflict)
		}
		if err = mapErr(err, false); errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("azure: delete %q: %w", key, err)
	}
	opts := &blob.DeleteOptions{DeleteSnapshots: ptr(blob.DeleteSnapshotsOptionTypeInclude)}
	if cond.IfMatch != "" {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: quote(cond.IfMatch)}}
	}
	_, err = bb.Delete(ctx, opts)
	err = mapErr(err, cond.IfMatch != "")
	if errors.Is(err, store.ErrNotFound) {
		if cond.IfMatch == "" {
			return nil
		}
		err = errMissingForCond
	}
	if err != nil {
		return fmt.Errorf("azure: delete %q: %w", key, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// List lists record keys, one round trip per 5000 keys.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, _, err := s.begin(ctx, objstore.OpList)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, s.recBase, prefix, after, limit)
}

// list lists the decoded names under base that start with prefix and sort
// after after. Escaping preserves order, so the service's order is the key
// order; StartFrom (inclusive) skips to after, and the filter below drops
// after itself and anything a server that ignores StartFrom returns.
func (s *Store) list(ctx context.Context, base, prefix, after string, limit int) ([]string, error) {
	opts := &container.ListBlobsFlatOptions{Prefix: ptr(base + objstore.Escape(prefix))}
	if sf := base + objstore.Escape(after); after != "" && sf > *opts.Prefix {
		opts.StartFrom = &sf
	}
	if limit > 0 {
		opts.MaxResults = ptr(int32(min(limit+1, 5000)))
	}
	var keys []string
	pager := s.cli.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("azure: list %q: %w", prefix, mapErr(err, false))
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil {
				continue
			}
			k, err := objstore.Unescape(strings.TrimPrefix(*it.Name, base))
			if err != nil || k <= after || !strings.HasPrefix(k, prefix) {
				continue
			}
			keys = append(keys, k)
			if limit > 0 && len(keys) == limit {
				return keys, nil
			}
		}
	}
	return keys, nil
}
