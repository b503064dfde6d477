//go:build !lockdunsafe

package keyspace

// Without the lockdunsafe build tag (every shipped binary) the test-only
// switches of unsafe.go are constants, so LOCKD_TEST_UNSAFE has no effect
// and the compiler drops the branches that would break an invariant.
const (
	unsafeReuseFencing   = false
	unsafeSkipLeaseCheck = false
)
