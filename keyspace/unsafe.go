//go:build lockdunsafe

package keyspace

import "os"

// TEST ONLY. This file is compiled only with `-tags lockdunsafe`, which
// the soak harness uses to build a deliberately broken server; the
// shipped binary is built without it and ignores LOCKD_TEST_UNSAFE (see
// unsafe_off.go). LOCKD_TEST_UNSAFE breaks one invariant on purpose, so
// that the soak harness (package soak) can prove its checkers fail on a
// broken server. The switches are read once at start.
//
//   - reuse-fencing: a new lease reuses the key's last fencing token
//     instead of taking a larger one (breaks invariant 1).
//   - skip-lease-check: while the key has a lease, any lease proof is
//     accepted, stale or not (a paused client's late write lands in the
//     current holder's transaction: breaks invariants 2 and 4).
var (
	unsafeMode           = os.Getenv("LOCKD_TEST_UNSAFE")
	unsafeReuseFencing   = unsafeMode == "reuse-fencing"
	unsafeSkipLeaseCheck = unsafeMode == "skip-lease-check"
)
