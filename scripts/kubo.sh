#!/usr/bin/env bash
# Installs the pinned kubo (go-ipfs) release into .tools/ from the Go module
# proxy, and does nothing when it is already there.
# Prints the path of the `ipfs` binary as its last line.
#
# `go install github.com/ipfs/kubo/cmd/ipfs@vX` needs the module's version list
# (for its deprecation check), which this machine's proxy refuses; so the
# pinned version is added to a throw-away module with `go get` and built there.
set -euo pipefail
KUBO_VERSION="${KUBO_VERSION:-v0.42.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/kubo-$KUBO_VERSION"
BIN="$TOOLS/ipfs"
if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { echo "kubo.sh: go is not installed; it is needed to build kubo $KUBO_VERSION" >&2; exit 1; }
  echo "kubo.sh: building github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION (first time only; takes a few minutes)" >&2
  MOD="$TOOLS/mod"
  mkdir -p "$MOD"
  (
    cd "$MOD"
    [ -f go.mod ] || go mod init kubo-tools >/dev/null 2>&1
    go get "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION" >&2
    go build -buildvcs=false -o "$BIN.tmp" github.com/ipfs/kubo/cmd/ipfs >&2
  )
  mv "$BIN.tmp" "$BIN"
fi
"$BIN" version >/dev/null
echo "$BIN"
