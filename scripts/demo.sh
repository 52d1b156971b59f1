#!/usr/bin/env bash
# Sets up whatever is missing, then runs the main job on a generated sample:
# package a directory, inspect it, verify it, and show that a flipped byte is caught.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
bytetide=$PWD/dist/bytetide

work=$(mktemp -d "${TMPDIR:-/tmp}/bytetide-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "generating a sample dataset in $work/dataset"
mkdir -p "$work/dataset/shards"
for i in 0 1 2; do head -c $((24 * 1024 * 1024 + i * 777)) /dev/urandom > "$work/dataset/shards/part-$i.bin"; done
printf '{"name": "demo", "shards": 3}\n' > "$work/dataset/manifest.json"
ln -s shards/part-0.bin "$work/dataset/first-shard"

step "bytetide make"
"$bytetide" make "$work/dataset" --chunk-size 1MiB

step "bytetide inspect"
"$bytetide" inspect "$work/dataset.bpkg"

step "a copy with one flipped byte is caught"
cp -a "$work/dataset" "$work/tampered"
printf '\xff' | dd of="$work/tampered/shards/part-1.bin" bs=1 seek=5000000 conv=notrunc status=none
if "$bytetide" verify "$work/dataset.bpkg" "$work/tampered"; then
  echo "demo: the tampered copy passed verification" >&2
  exit 1
fi

step "bytetide verify"
"$bytetide" verify "$work/dataset.bpkg"
