#!/usr/bin/env bash
# test.sh runs lockd's whole test suite on a fresh machine that has Go and
# Node/npm: it installs the S3 and Azure test servers (cached under
# ~/.cache/lockd-testdeps), checks formatting, go.mod tidiness, vet and
# staticcheck, and runs every test with the race detector. .ci/run runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=1 # the race detector needs cgo
bash scripts/testdeps.sh

echo "== gofmt, go mod tidy, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go mod tidy -diff
go vet ./...
# staticcheck is run from the module proxy at a pinned version, so it never
# enters go.mod; its build is cached like any other.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test -race"
go test -race -timeout 25m ./...

# The 1 GiB attachment through lockd mcp, at full size (the race build of
# that test sends 128 MiB: the detector makes its own encoding too slow).
echo "== 1 GiB through lockd mcp (no -race)"
go test -count=1 -timeout 20m -run 'TestMCPOneGiBAttachmentKeepsFacadeRSSLow' ./cmd/lockd/

# The HTTP tests once more on the object stores (real versitygw and Azurite
# on loopback): the same requests must behave the same on every backend.
echo "== HTTP tests on s3 and azure"
LOCKD_TEST_BACKENDS=s3,azure go test -race -timeout 20m ./edge/

# And through three clustered lockd processes on one versitygw bucket
# behind a round-robin balancer (docs/CLUSTER.md): every HTTP test that
# passes on one node must pass through the cluster too.
echo "== HTTP tests through a 3-node cluster on s3"
LOCKD_TEST_BACKENDS=cluster-s3 go test -race -timeout 20m ./edge/
