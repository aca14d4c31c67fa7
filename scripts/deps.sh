#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: systemd
# (systemd-analyze verifies the unit files), curl and wget (install.sh),
# coreutils (sha256sum), openssl (the TLS test's certificate), chromium (the
# dashboard's browser tests, driven by playwright-core).
# Needs root (or sudo) and apt-get; does nothing when all are present.
set -euo pipefail
need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v wget >/dev/null 2>&1 || need+=(wget)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ "${#need[@]}" -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "deps.sh: missing ${need[*]} and no apt-get to install them" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps.sh: missing ${need[*]}; run as root or install them" >&2; exit 1; }
  SUDO="sudo"
fi
echo "deps.sh: installing ${need[*]}" >&2
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
