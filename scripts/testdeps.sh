#!/usr/bin/env bash
# testdeps.sh installs the object-store servers the store/s3 and store/azure
# tests run against, into a cache directory:
#
#   versitygw v1.8.0 (S3, Go)     -> $DIR/bin/versitygw
#   Azurite 3.37.0  (Azure, npm)  -> $DIR/azurite/node_modules/.bin/azurite-blob
#
# DIR is $LOCKD_TESTDEPS_DIR, default $HOME/.cache/lockd-testdeps. The script
# is idempotent and quiet when everything is already installed; it needs only
# Go and Node/npm. internal/testservers runs it when a binary is missing.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
AZURITE_VERSION=3.37.0

dir="${LOCKD_TESTDEPS_DIR:-${HOME:-/tmp}/.cache/lockd-testdeps}"
mkdir -p "$dir/bin" "$dir/azurite"

# Serialize concurrent runs (several test binaries may start at once).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.lock"
	flock 9
fi

log() { echo "testdeps: $*" >&2; }

if [ ! -x "$dir/bin/versitygw" ]; then
	log "installing versitygw $VERSITYGW_VERSION into $dir/bin"
	# Module mode outside any module, static binary, no workspace effects.
	(cd "$dir" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$dir/bin" \
		go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION")
fi

azbin="$dir/azurite/node_modules/.bin/azurite-blob"
if [ ! -x "$azbin" ] || [ "$(cat "$dir/azurite/.version" 2>/dev/null)" != "$AZURITE_VERSION" ]; then
	log "installing azurite $AZURITE_VERSION into $dir/azurite"
	npm install --prefix "$dir/azurite" --no-audit --no-fund --loglevel=error \
		"azurite@$AZURITE_VERSION" >/dev/null
	echo "$AZURITE_VERSION" >"$dir/azurite/.version"
fi
