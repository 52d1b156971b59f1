#!/usr/bin/env bash
# Sets up whatever is missing, then runs a benchmark (default: make). JSON goes to stdout
# and to bench/results/. Example: ./scripts/bench.sh make --size 2GiB
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
bench=${1:-make}
shift || true
exec node_modules/.bin/bun "bench/$bench.ts" "$@"
