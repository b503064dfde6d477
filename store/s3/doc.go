// Package s3 is the store driver for Amazon S3 and S3-compatible object
// stores (aws-sdk-go-v2). Several lockd nodes may share one bucket and
// prefix: every record write is a conditional PutObject, so a node that
// lost ownership of a key cannot overwrite a newer record.
//
// # Object layout
//
// Under the configured prefix P (no leading or trailing '/'):
//
//	P/r/<esc(key)>    one object per record
//	P/b/<esc(name)>   one object per blob
//
// esc is the order-preserving escaping of names.go: letters, digits and
// '-' are kept, every other byte becomes a marker and two hex digits (so
// '/' is ".2F" and "a b" is "a!20b"). Escaped names are plain ASCII with no
// '/', "." or ".." segments, so they are valid on every S3 implementation,
// including file-system backed ones where "k" and "k/x" could not coexist,
// and they sort in the byte order of the original keys, which lets List map
// prefix/after/limit straight onto ListObjectsV2.
// Escaping at most triples a key, so the 1024-byte name limit bounds keys
// to about 340 bytes in the worst case (over 1000 for plain ASCII paths).
//
// A record object holds a 20-byte header, "lkr1" and a random 16-byte
// nonce, followed by the value. The nonce makes the object's ETag change on
// every write even when the value does not (S3 ETags are content hashes),
// which compare-and-swap needs, and lets a retried conditional write
// recognise its own earlier success.
//
// # Consistency
//
// Create-only writes send If-None-Match: *, replacing writes If-Match and
// conditional deletes If-Match on DeleteObject. 412 and 409 answers map to
// store.ErrConflict and are never retried; throttling, 5xx and transport
// errors are retried with capped exponential backoff and jitter.
//
// Blobs larger than one part are written with a multipart upload whose
// parts are buffered in memory (PartSize × (Concurrency+1) bytes at most
// per upload). The blob becomes visible only when the upload completes; a
// failed write aborts the upload. Uploads orphaned by a crash are invisible
// but take space: configure a bucket lifecycle rule that aborts incomplete
// multipart uploads after a day.
//
// The driver implements store.Store but not store.Batcher: S3 has no atomic
// multi-object write, so store.Apply writes batches one op at a time.
package s3
