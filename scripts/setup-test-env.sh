#!/usr/bin/env bash
# What the test suite needs besides Python packages, installed and started by the project itself:
# local PostgreSQL and Redis (started if installed but stopped), and the protocol peers and browser
# (scripts/install-peers.sh). Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  ver=$(ls /etc/postgresql 2>/dev/null | head -n1 || true)
  [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
# A CJK font so that browser screenshots of the (Chinese-first) console are legible.
if ! fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || \
      (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1)) || true
  fi
fi
# Debian's Chromium for the console's browser tests (Playwright drives it; no downloaded browser).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
    (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) || \
    echo "setup-test-env: could not install chromium; browser tests will be skipped" >&2
fi
if [ -x scripts/install-peers.sh ] || [ -f scripts/install-peers.sh ]; then
  bash scripts/install-peers.sh
fi
