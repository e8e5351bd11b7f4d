#!/usr/bin/env bash
# Install what the channel test peers need on a Debian machine (run as root; idempotent, quiet when done):
#   kannel (bearerbox + smsbox), nodejs + npm, and the SMPP peer's npm packages (npm ci from package-lock.json).
# Safe to call from `make test` every time: when everything is present it only runs a few `command -v` checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER_DIR="$ROOT/tests/peers/smpp"

missing=()
command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ] || missing+=(kannel)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-peers: missing ${missing[*]}; run this script as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "install-peers: installing ${missing[*]}" >&2
  # update the package lists once, only when apt has none yet or the install cannot find a package
  if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
    apt-get update -qq
  fi
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # the Debian package starts Kannel as a service where it can; the tests run their own boxes
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kannel 2>/dev/null; then
    systemctl stop kannel || true
  fi
fi

# npm ci only when node_modules is absent or older than the lock file
stamp="$PEER_DIR/node_modules/.package-lock.json"
if [ ! -d "$PEER_DIR/node_modules/smpp" ] || [ "$PEER_DIR/package-lock.json" -nt "$stamp" ]; then
  (cd "$PEER_DIR" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || {
    echo "install-peers: npm ci failed in $PEER_DIR" >&2
    (cd "$PEER_DIR" && npm ci --no-audit --no-fund) >&2
    exit 1
  }
fi
