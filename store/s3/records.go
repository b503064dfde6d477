package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

// A record object is recMagic, a random nonce, then the value.
const (
	recMagic  = "lkr1"
	nonceLen  = 16
	recHeader = len(recMagic) + nonceLen
)

func frame(value []byte) []byte {
	b := make([]byte, recHeader+len(value))
	copy(b, recMagic)
	rand.Read(b[len(recMagic):recHeader])
	copy(b[recHeader:], value)
	return b
}

func unframe(b []byte) ([]byte, error) {
	if len(b) < recHeader || string(b[:len(recMagic)]) != recMagic {
		return nil, ErrCorrupt
	}
	return b[recHeader:], nil
}

// quote and unquote convert between the ETag header form ("abc") and the
// bare form callers see; S3 servers accept If-Match in the quoted form.
func quote(etag string) string    { return `"` + etag + `"` }
func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

// Get returns the record under key, or store.ErrNotFound. One round trip.
func (s *Store) Get(ctx context.Context, key string) (store.Record, error) {
	ctx, _, err := s.beginKey(ctx, objstore.OpGet, key)
	if err != nil {
		return store.Record{}, err
	}
	body, etag, err := s.getObject(ctx, s.recName(key))
	if err != nil {
		return store.Record{}, fmt.Errorf("s3: get %q: %w", key, err)
	}
	value, err := unframe(body)
	if err != nil {
		return store.Record{}, fmt.Errorf("s3: get %q: %w", key, err)
	}
	return store.Record{Value: value, ETag: etag}, nil
}

func (s *Store) getObject(ctx context.Context, name string) ([]byte, string, error) {
	out, err := s.cli.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &name})
	if err != nil {
		return nil, "", mapErr(err, false)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", err
	}
	return body, unquote(out.ETag), nil
}

// Put writes the record with one conditional PutObject and returns its new
// ETag. A failed precondition is never retried; when an earlier try of the
// same call may have succeeded unseen (its answer lost, then a retry got
// 412), one GET checks the nonce to tell our own write from another's.
func (s *Store) Put(ctx context.Context, key string, value []byte, cond store.Cond) (string, error) {
	ctx, cl, err := s.beginKey(ctx, objstore.OpPut, key)
	if err != nil {
		return "", err
	}
	if cond.IfNotExists && cond.IfMatch != "" {
		return "", fmt.Errorf("s3: put %q: IfMatch on a key required absent: %w", key, store.ErrConflict)
	}
	name, body := s.recName(key), frame(value)
	in := &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: &name,
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	}
	s.setSSE(&in.ServerSideEncryption, &in.SSEKMSKeyId)
	switch {
	case cond.IfNotExists:
		in.IfNoneMatch = aws.String("*")
	case cond.IfMatch != "":
		in.IfMatch = aws.String(quote(cond.IfMatch))
	}
	out, err := s.cli.PutObject(ctx, in)
	if err == nil {
		return unquote(out.ETag), nil
	}
	conditional := in.IfNoneMatch != nil || in.IfMatch != nil
	err = mapErr(err, conditional)
	switch {
	case errors.Is(err, store.ErrNotFound) && cond.IfMatch != "":
		err = errMissingForCond
	case errors.Is(err, store.ErrConflict) && cl.Trips() > 1:
		if got, etag, gerr := s.getObject(ctx, name); gerr == nil && bytes.Equal(got[:min(len(got), recHeader)], body[:recHeader]) {
			return etag, nil
		}
	}
	return "", fmt.Errorf("s3: put %q: %w", key, err)
}

func (s *Store) setSSE(sse *types.ServerSideEncryption, kmsKey **string) {
	*sse = types.ServerSideEncryption(s.cfg.SSE)
	if s.cfg.KMSKeyID != "" {
		*kmsKey = aws.String(s.cfg.KMSKeyID)
	}
}

// Delete removes the record. With IfMatch it is one conditional
// DeleteObject; a missing key then fails with an error that is both
// store.ErrConflict and store.ErrNotFound. IfNotExists costs one HEAD and
// fails when the key exists.
func (s *Store) Delete(ctx context.Context, key string, cond store.Cond) error {
	ctx, _, err := s.beginKey(ctx, objstore.OpDelete, key)
	if err != nil {
		return err
	}
	name := s.recName(key)
	switch {
	case cond.IfNotExists && cond.IfMatch != "":
		return fmt.Errorf("s3: delete %q: IfMatch on a key required absent: %w", key, store.ErrConflict)
	case cond.IfNotExists:
		_, err := s.cli.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &name})
		if err == nil {
			return fmt.Errorf("s3: delete %q: exists: %w", key, store.ErrConflict)
		}
		if err = mapErr(err, false); errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("s3: delete %q: %w", key, err)
	}
	in := &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &name}
	if cond.IfMatch != "" {
		in.IfMatch = aws.String(quote(cond.IfMatch))
	}
	_, err = s.cli.DeleteObject(ctx, in)
	if err == nil {
		return nil
	}
	err = mapErr(err, in.IfMatch != nil)
	if errors.Is(err, store.ErrNotFound) {
		if in.IfMatch == nil {
			return nil
		}
		err = errMissingForCond
	}
	return fmt.Errorf("s3: delete %q: %w", key, err)
}

// List lists record keys with ListObjectsV2, one round trip per 1000 keys.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	ctx, _, err := s.begin(ctx, objstore.OpList)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, s.recBase, prefix, after, limit)
}

// list lists the decoded names under base that start with prefix and sort
// after after. Escaping preserves order, so S3's order is the key order and
// StartAfter skips straight past after.
func (s *Store) list(ctx context.Context, base, prefix, after string, limit int) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: aws.String(base + objstore.Escape(prefix))}
	if sa := base + objstore.Escape(after); after != "" && sa > *in.Prefix {
		in.StartAfter = &sa
	}
	var keys []string
	for {
		if limit > 0 {
			in.MaxKeys = aws.Int32(int32(min(limit-len(keys), 1000)))
		}
		out, err := s.cli.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3: list %q: %w", prefix, mapErr(err, false))
		}
		for _, o := range out.Contents {
			k, err := objstore.Unescape(strings.TrimPrefix(aws.ToString(o.Key), base))
			if err != nil || k <= after || !strings.HasPrefix(k, prefix) {
				continue // not ours, or a server that ignored StartAfter
			}
			keys = append(keys, k)
			if limit > 0 && len(keys) == limit {
				return keys, nil
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return keys, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}
