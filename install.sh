#!/bin/sh
# Installs the ipfs-cluster binary (IPFS Cluster in one executable).
#
#   curl -fsSL <release-base>/install.sh | sh
#   curl -fsSL <release-base>/install.sh | sh -s -- --prefix "$HOME/bin" --systemd
#
# Detects the OS (linux, darwin) and architecture (x86_64/amd64 -> x64,
# aarch64/arm64 -> arm64), downloads ipfs-cluster-<os>-<arch> and its .sha256
# ("<hex>  <file>") from the release location, verifies the checksum, installs
# the binary as <prefix>/ipfs-cluster and links ipfs-cluster-service,
# ipfs-cluster-ctl and ipfs-cluster-follow to it.
#
# Options (or environment variables):
#   --prefix DIR       IPFS_CLUSTER_PREFIX       install folder (default /usr/local/bin as root, else ~/.local/bin)
#   --release-url URL  IPFS_CLUSTER_RELEASE_URL  where the binaries are (mirrors, tests)
#   --version TAG      IPFS_CLUSTER_VERSION      release tag to download (default: latest)
#   --systemd          IPFS_CLUSTER_SYSTEMD=1    also install the systemd units (root only)
#   --help
set -eu

REPO_URL="https://github.com/ipfs-cluster-ts/ipfs-cluster-ts"
PREFIX="${IPFS_CLUSTER_PREFIX:-}"
RELEASE_URL="${IPFS_CLUSTER_RELEASE_URL:-}"
VERSION="${IPFS_CLUSTER_VERSION:-latest}"
SYSTEMD="${IPFS_CLUSTER_SYSTEMD:-0}"
SYSTEMD_DIR="${IPFS_CLUSTER_SYSTEMD_DIR:-/etc/systemd/system}"
LINKS="ipfs-cluster-service ipfs-cluster-ctl ipfs-cluster-follow"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'USAGE'
Installs the ipfs-cluster binary and its ipfs-cluster-service, ipfs-cluster-ctl
and ipfs-cluster-follow links.

  curl -fsSL <release-base>/install.sh | sh
  curl -fsSL <release-base>/install.sh | sh -s -- [options]

Options (or environment variables):
  --prefix DIR       IPFS_CLUSTER_PREFIX       install folder (default /usr/local/bin as root, else ~/.local/bin)
  --release-url URL  IPFS_CLUSTER_RELEASE_URL  where the binaries are (mirrors, tests)
  --version TAG      IPFS_CLUSTER_VERSION      release tag to download (default: latest)
  --systemd          IPFS_CLUSTER_SYSTEMD=1    also install the systemd units (root only)
                     IPFS_CLUSTER_SYSTEMD_DIR  where to put the units (default /etc/systemd/system)
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --release-url) [ $# -ge 2 ] || die "--release-url needs a URL"; RELEASE_URL="$2"; shift 2 ;;
    --release-url=*) RELEASE_URL="${1#*=}"; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs a tag"; VERSION="$2"; shift 2 ;;
    --version=*) VERSION="${1#*=}"; shift ;;
    --systemd) SYSTEMD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

if [ -z "$RELEASE_URL" ]; then
  if [ "$VERSION" = "latest" ]; then
    RELEASE_URL="$REPO_URL/releases/latest/download"
  else
    RELEASE_URL="$REPO_URL/releases/download/$VERSION"
  fi
fi
RELEASE_URL="${RELEASE_URL%/}"

# --- platform ---------------------------------------------------------------
uname_s="$(uname -s 2>/dev/null || echo unknown)"
uname_m="$(uname -m 2>/dev/null || echo unknown)"
case "$uname_s" in
  Linux|linux) os=linux ;;
  Darwin|darwin) os=darwin ;;
  MINGW*|MSYS*|CYGWIN*|Windows_NT)
    die "Windows is not supported by this installer: download ipfs-cluster-windows-x64.exe (and its .sha256) from $RELEASE_URL/ipfs-cluster-windows-x64.exe" ;;
  *) die "unsupported operating system: $uname_s (supported: Linux, Darwin)" ;;
esac
case "$uname_m" in
  x86_64|amd64|x64) arch=x64 ;;
  aarch64|arm64|armv8*) arch=arm64 ;;
  *) die "unsupported architecture: $uname_m (supported: x86_64/amd64, aarch64/arm64)" ;;
esac
asset="ipfs-cluster-$os-$arch"

# --- tools ------------------------------------------------------------------
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{print $1}'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
else
  die "neither sha256sum nor shasum is installed: cannot verify the download"
fi

# --- destination ------------------------------------------------------------
uid="$(id -u 2>/dev/null || echo 1)"
if [ -z "$PREFIX" ]; then
  if [ "$uid" = "0" ]; then PREFIX=/usr/local/bin; else PREFIX="${HOME:?HOME is not set}/.local/bin"; fi
fi
if [ ! -d "$PREFIX" ]; then
  mkdir -p "$PREFIX" 2>/dev/null || die "cannot create $PREFIX: no write permission (run as root, or use --prefix DIR / IPFS_CLUSTER_PREFIX)"
fi
if [ ! -w "$PREFIX" ]; then
  die "no write permission on $PREFIX (run as root, or use --prefix DIR / IPFS_CLUSTER_PREFIX)"
fi
if [ "$SYSTEMD" = "1" ] && [ "$uid" != "0" ] && [ ! -w "$SYSTEMD_DIR" ]; then
  die "--systemd needs root (no write permission on $SYSTEMD_DIR)"
fi

# --- download and verify ----------------------------------------------------
tmp="$(mktemp -d 2>/dev/null || mktemp -d -t ipfs-cluster)"
trap 'rm -rf "$tmp"' EXIT INT TERM

say "Downloading $RELEASE_URL/$asset"
fetch "$RELEASE_URL/$asset" "$tmp/$asset" || die "download failed: $RELEASE_URL/$asset"
fetch "$RELEASE_URL/$asset.sha256" "$tmp/$asset.sha256" || die "download failed: $RELEASE_URL/$asset.sha256"

expected="$(awk 'NR==1{print $1}' "$tmp/$asset.sha256" | tr 'A-F' 'a-f')"
case "$expected" in
  *[!0-9a-f]*|'') die "malformed checksum file $asset.sha256" ;;
esac
[ "${#expected}" -eq 64 ] || die "malformed checksum file $asset.sha256"
actual="$(sha256 "$tmp/$asset")"
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset: expected $expected, got $actual (corrupted or tampered download; nothing was installed)"
fi
say "Checksum verified ($actual)"

# --- install ----------------------------------------------------------------
chmod 0755 "$tmp/$asset"
# copy next to the destination, then rename: atomic, and works on a running binary
cp "$tmp/$asset" "$PREFIX/.ipfs-cluster.new" 2>/dev/null || die "no write permission on $PREFIX"
mv -f "$PREFIX/.ipfs-cluster.new" "$PREFIX/ipfs-cluster" || die "cannot install $PREFIX/ipfs-cluster"
for l in $LINKS; do
  ln -sf ipfs-cluster "$PREFIX/$l" || die "cannot create the link $PREFIX/$l"
done
say "Installed $PREFIX/ipfs-cluster"
say "Links: $(for l in $LINKS; do printf '%s ' "$PREFIX/$l"; done)"

# --- systemd ----------------------------------------------------------------
if [ "$SYSTEMD" = "1" ]; then
  [ "$os" = "linux" ] || die "--systemd is only for Linux"
  for unit in ipfs-cluster.service ipfs-cluster-follow@.service; do
    fetch "$RELEASE_URL/$unit" "$tmp/$unit" || die "download failed: $RELEASE_URL/$unit"
    if [ "$PREFIX" != "/usr/local/bin" ]; then
      sed "s#/usr/local/bin/#$PREFIX/#g" "$tmp/$unit" > "$tmp/$unit.p" && mv "$tmp/$unit.p" "$tmp/$unit"
    fi
    mkdir -p "$SYSTEMD_DIR" && cp "$tmp/$unit" "$SYSTEMD_DIR/$unit" || die "cannot write $SYSTEMD_DIR/$unit"
    chmod 0644 "$SYSTEMD_DIR/$unit"
  done
  if [ "$uid" = "0" ] && [ "$SYSTEMD_DIR" = "/etc/systemd/system" ] && ! id ipfs-cluster >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
      useradd --system --user-group --home-dir /var/lib/ipfs-cluster --no-create-home --shell /usr/sbin/nologin ipfs-cluster \
        || say "warning: could not create the ipfs-cluster user"
    else
      say "warning: create a system user 'ipfs-cluster' before starting the units"
    fi
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
  say "systemd units installed in $SYSTEMD_DIR:"
  say "  systemctl enable --now ipfs-cluster                 (peer: state in /var/lib/ipfs-cluster, run 'ipfs-cluster-service init' there first)"
  say "  systemctl enable --now ipfs-cluster-follow@<name>   (follower: init it with HOME=/var/lib/ipfs-cluster-follow ipfs-cluster-follow <name> init <url>)"
fi

case ":${PATH:-}:" in
  *":$PREFIX:"*) ;;
  *) say "Note: $PREFIX is not in your PATH; add it, e.g. export PATH=\"$PREFIX:\$PATH\"" ;;
esac
say "Done. Try: ipfs-cluster-ctl --version"
