#!/usr/bin/env bash
# Sets up whatever is missing, then runs the whole suite. Extra arguments go to `bun test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# The rollout page is tested in a real headless browser: Debian's chromium, installed where
# we can (root with apt-get); without it that test is skipped, its name saying why.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test: installing chromium for the rollout page's test" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "test: chromium not installable; the rollout page's browser test will be skipped" >&2
fi
# Multi-process tests run real servers and clients; give each room on a busy 2-core machine.
exec node_modules/.bin/bun test --timeout 120000 "$@"
