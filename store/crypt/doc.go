// Package crypt is a store.Store decorator that encrypts every record value
// and blob at rest with AES-256-GCM envelopes; keys, ETags and listing are
// passed through, so compare-and-swap, batches and prefix listing behave
// exactly as the driver underneath.
//
// # Keys
//
// A 32-byte root key (the LOCKD STORAGE KEY block of the bundles) derives,
// with HKDF-SHA256, a key-encryption key (info "lockd storage kek v1") and
// an 8-byte key id (info "lockd storage key id v1"). Every object written
// gets a fresh random 32-byte data key, wrapped with the key-encryption key
// by AES key wrap (RFC 3394); a data key encrypts exactly one object, so
// its GCM nonces never repeat.
//
// # Envelope
//
// Both kinds of objects start with the same 53-byte header:
//
//	magic    4 bytes   "LKE\x01" (record) or "LKS\x01" (blob stream)
//	flags    1 byte    bit 0: the plaintext was snappy-compressed (records)
//	key id   8 bytes   which root key wrapped the data key
//	dek      40 bytes  the wrapped data key
//
// A record is the header followed by GCM(data key, nonce 0, plaintext)
// with the header and the record's key as additional data, so a value
// copied under another key or with another header fails to open.
//
// A blob is the header followed by frames that each seal up to 64 KiB of
// the stream:
//
//	length   4 bytes   big-endian ciphertext length; the top bit marks the
//	                   final frame
//	sealed   length    GCM(data key, nonce, segment), additional data as for
//	                   records
//
// The nonce of frame i is 7 zero bytes, i as 4 big-endian bytes and one
// byte that is 1 for the final frame only, so reordered, dropped, repeated
// or truncated frames fail to open, and a stream that ends before a final
// frame is an error. Blobs stream with memory bounded by two segments, and
// the plaintext size of a blob follows from its stored size (every frame
// but the last holds exactly 64 KiB), so OpenBlob reports it up front.
// Blobs are never compressed.
//
// Reading an object written under another root key fails with ErrWrongKey,
// an unencrypted object with ErrNotEncrypted, and a damaged one with
// ErrCorrupt; no garbage is ever returned. Inspect samples a store to tell
// these apart before a server starts serving it.
package crypt
