#!/usr/bin/env bash
# Builds upstream IPFS Cluster's `ipfs-cluster-service` and `ipfs-cluster-ctl`
# (Go, pinned version) into .tools/ from the Go module proxy, for the
# mixed-cluster tests; does nothing when they are already there.
# Prints the folder holding both binaries as its last line.
#
# As in scripts/kubo.sh: `go install …@vX` needs the module's version list,
# which this machine's proxy refuses, so the pinned version is added to a
# throw-away module with `go get` and built there.
set -euo pipefail
UPSTREAM_VERSION="${UPSTREAM_VERSION:-v1.1.6}"
MODULE="github.com/ipfs-cluster/ipfs-cluster"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/ipfs-cluster-$UPSTREAM_VERSION"
PROGRAMS=(ipfs-cluster-service ipfs-cluster-ctl)

missing=()
for p in "${PROGRAMS[@]}"; do [ -x "$TOOLS/$p" ] || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v go >/dev/null 2>&1 || { echo "upstream.sh: go is not installed; it is needed to build ipfs-cluster $UPSTREAM_VERSION" >&2; exit 1; }
  echo "upstream.sh: building $MODULE ${missing[*]} @$UPSTREAM_VERSION (first time only; takes a few minutes)" >&2
  MOD="$TOOLS/mod"
  mkdir -p "$MOD"
  (
    cd "$MOD"
    [ -f go.mod ] || go mod init ipfs-cluster-tools >/dev/null 2>&1
    for p in "${missing[@]}"; do go get "$MODULE/cmd/$p@$UPSTREAM_VERSION" >&2; done
    for p in "${missing[@]}"; do
      go build -buildvcs=false -o "$TOOLS/$p.tmp" "$MODULE/cmd/$p" >&2
      mv "$TOOLS/$p.tmp" "$TOOLS/$p"
    done
  )
fi
for p in "${PROGRAMS[@]}"; do "$TOOLS/$p" --version >/dev/null; done
echo "$TOOLS"
