// Package store is lockd's persistence port.
//
// A driver stores two kinds of objects under string keys:
//
//   - records: small values (at most a few hundred KiB) read and written
//     whole, with compare-and-swap through ETags (Backend);
//   - blobs: large immutable byte streams written once and read as streams
//     (Blobs), used for big JSON states, attachments and queue payloads.
//
// Records and blobs live in separate key spaces: a record and a blob may
// share a name without clashing.
//
// Every write on Backend and Blobs is durable when it returns without error.
// A driver whose engine has atomic multi-record batches also implements
// Batcher, which applies a batch at once and lets the caller wait for the
// fsync outside its own critical section (group commit).
//
// Keys are '/'-separated paths of printable characters. Drivers must accept
// any byte except NUL in a key segment.
package store
