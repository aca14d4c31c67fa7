#!/usr/bin/env bash
# The test command (README): installs the Debian packages the tests use,
# kubo and upstream's Go ipfs-cluster v1.1.6 if missing, builds the binary,
# runs typecheck, lint and every bun test (unit, integration, e2e), and
# ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUN="node_modules/.bin/bun"
[ -x "$BUN" ] || { echo "bun is missing: run npm ci first" >&2; exit 1; }

bash scripts/deps.sh || { echo "installing the Debian packages the tests use failed" >&2; echo "0 passed, 1 failed"; exit 1; }
# the launcher (scripts/launcher/kubo.ts) starts this kubo in every test
KUBO_BIN="$(bash scripts/kubo.sh | tail -1)" || { echo "kubo install failed" >&2; echo "0 passed, 1 failed"; exit 1; }
export KUBO_BIN
echo "kubo: $KUBO_BIN"
# upstream Go ipfs-cluster v1.1.6 (service and ctl) for the mixed-cluster e2e tests
UPSTREAM_CLUSTER_DIR="$(bash scripts/upstream.sh | tail -1)" || { echo "upstream ipfs-cluster build failed" >&2; echo "0 passed, 1 failed"; exit 1; }
export UPSTREAM_CLUSTER_DIR
echo "upstream ipfs-cluster: $UPSTREAM_CLUSTER_DIR"

passed=0
failed=0
check() { # name, command...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "check $name: ok"; else failed=$((failed + 1)); echo "check $name: FAILED"; fi
}
check build "$BUN" scripts/build.ts
check typecheck node_modules/.bin/tsc --noEmit -p .
check lint node_modules/.bin/biome lint src test scripts bench
check structure "$BUN" scripts/check-structure.ts

LOG="$(mktemp)"
# Unit and integration tests first, then the e2e suites that drive the binary.
"$BUN" test --timeout 120000 ${TEST_FILTER:-test/} 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
p=$(grep -Eo '^ *[0-9]+ pass$' "$LOG" | tail -1 | grep -Eo '[0-9]+' || echo 0)
f=$(grep -Eo '^ *[0-9]+ fail$' "$LOG" | tail -1 | grep -Eo '[0-9]+' || echo 0)
if [ "$f" -gt 0 ]; then
  # the CI keeps only the end of the output: repeat each failure's error here (the first 25 and last 15 lines of each, 5 failures at most)
  echo "--- the failures again (their errors, as printed above) ---"
  awk '/tests? failed:$/ { exit }
       /^\(pass\)|^\(todo\)|^\(skip\)/ { n = 0; next }
       /^\(fail\)/ { if (shown++ < 5) { for (i = 0; i < n; i++) if (i < 25 || i >= n - 15) print buf[i]; else if (i == 25) print "  [...]"; print; print "" } n = 0; next }
       { buf[n++] = $0 }' "$LOG"
fi
rm -f "$LOG"
passed=$((passed + p))
failed=$((failed + f))
if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); echo "bun test exited with $status"; fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
