// Package state keeps the MCP facade's OAuth configuration on disk: the
// token signing key and the registered confidential clients (their hashed
// secrets, redirect URIs, namespace claims and revocation).
//
// Guarantees:
//   - The file is one record envelope of store/crypt (AES-256-GCM under a
//     fresh data key, bound to the name "lockd mcp oauth state v1"), under
//     a root key derived with HKDF-SHA256 from a bundle: its LOCKD STORAGE
//     KEY block when it has one (server and CA bundles), else its private
//     key (client bundles). Without that bundle the file cannot be read,
//     and a damaged or swapped file fails to open; it is never half read.
//   - Writes replace the file atomically (write, fsync, rename, sync the
//     folder) under an exclusive lock on PATH.lock, so `lockd mcp admin`
//     and a serving facade can change it at the same time without losing
//     an update.
//   - A reader sees changes made by other processes: Load re-reads the
//     file whenever its size, modification time or inode changed, so a
//     client revoked by `lockd mcp admin` is refused at the next request.
//   - Secrets are never stored: only their SHA-256 (they are 256-bit
//     random values, so a plain hash is enough).
package state
