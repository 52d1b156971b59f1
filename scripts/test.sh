#!/usr/bin/env bash
# Sets up whatever is missing, then runs the whole suite. Extra arguments go to `bun test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# Multi-process tests run real servers and clients; give each room on a busy 2-core machine.
exec node_modules/.bin/bun test --timeout 120000 "$@"
