// Package testservers runs real object-store servers for tests, on
// loopback only:
//
//   - versitygw (S3, posix backend) for store/s3,
//   - Azurite (Azure Blob, in-memory) for store/azure.
//
// Each server is found on PATH or in the test-deps cache
// ($LOCKD_TESTDEPS_DIR, default $HOME/.cache/lockd-testdeps); when it is
// missing, scripts/testdeps.sh installs it first, so a plain `go test ./...`
// works on a machine with only Go and Node/npm. Tests never skip for want
// of a server.
//
// One process per server kind is shared by all tests of a test binary that
// overlap in time: the first user starts it, the last user's t.Cleanup
// stops it (SIGTERM to its process group, then SIGKILL). Every test gets a
// fresh bucket or container, so tests may run in parallel.
package testservers
