// Package keyspace holds the key actor: one actor per (namespace, key) that
// owns the key's lease, fencing counter, committed JSON state and the writes
// staged under the current lease.
//
// Guarantees:
//   - Fencing tokens strictly increase per key, across restarts: a token is
//     written durably before it is returned and the counter is never reset.
//   - At most one live lease per key. Blocked acquirers wait in arrival
//     order and are granted the lease the moment it frees (release, or the
//     expiry timer); nobody polls.
//   - A release that answered is durable: every reply that follows a write
//     is sent only after the write is on stable storage.
//   - Staged writes are visible to the lease holder only. Public reads see
//     committed state; a release commits every staged change exactly as
//     staged, a rollback or an expiry discards them.
//   - Every write of the key's record is conditional on the record's last
//     ETag, so a second process writing the same store cannot be silently
//     overwritten (see invariant 8 in DESIGN.md).
//
// Storage layout (see docs/STORAGE.md): the record of key K in namespace N
// is the store record "N/k/K"; large states are blobs "N/s/K:ID".
package keyspace
