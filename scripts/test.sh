#!/usr/bin/env bash
# test.sh runs lockd's whole test suite on a fresh machine that has Go and
# Node/npm: it installs the S3 and Azure test servers (cached under
# ~/.cache/lockd-testdeps), vets the code and runs every test with the race
# detector. .ci/run runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CGO_ENABLED=1 # the race detector needs cgo
bash scripts/testdeps.sh

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -timeout 25m ./...

# The HTTP tests once more on the object stores (real versitygw and Azurite
# on loopback): the same requests must behave the same on every backend.
echo "== HTTP tests on s3 and azure"
LOCKD_TEST_BACKENDS=s3,azure go test -race -timeout 20m ./edge/
