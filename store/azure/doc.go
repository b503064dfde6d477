// Package azure is the store driver for Azure Blob Storage (azblob).
// Several lockd nodes may share one container and prefix: every record
// write carries an ETag access condition, so a node that lost ownership of
// a key cannot overwrite a newer record.
//
// # Blob layout
//
// Under the configured prefix P (no leading or trailing '/') in the
// container:
//
//	P/r/<esc(key)>    one block blob per record, holding the value
//	P/b/<esc(name)>   one block blob per lockd blob
//
// esc is the order-preserving escaping of names.go: letters, digits and
// '-' are kept, every other byte becomes a marker and two hex digits (so
// '/' is ".2F"). Escaped names are plain ASCII without '/', '\', "." or
// ".." segments and never end in '.', all of which Azure treats specially,
// and they list in the byte order of the original keys, so List maps
// prefix/after/limit onto List Blobs.
// Escaping at most triples a key, so the 1024-byte name limit bounds keys
// to about 340 bytes in the worst case (over 1000 for plain ASCII paths).
//
// Each record blob carries a random nonce in its metadata ("lockdnonce")
// so that a retried conditional write can recognise its own earlier
// success.
//
// # Consistency
//
// Create-only writes send If-None-Match: * (Azure answers 409
// BlobAlreadyExists when the blob exists), replacing writes and
// conditional deletes If-Match. 409 and 412 answers to conditional
// requests map to store.ErrConflict and are never retried; 408, 429, 5xx
// and transport errors are retried with capped exponential backoff.
//
// Blobs are written with UploadStream: blocks of BlockSize bytes are
// staged, at most Concurrency at a time, then committed as one block list,
// so the blob changes atomically on commit. A failed write leaves only
// uncommitted blocks, which are invisible and which Azure discards after
// a week.
//
// The driver implements store.Store but not store.Batcher.
package azure
