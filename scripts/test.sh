#!/usr/bin/env bash
# Sets up whatever is missing, then runs the whole suite. Extra arguments go to `bun test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec node_modules/.bin/bun test "$@"
