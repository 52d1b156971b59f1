#!/usr/bin/env bash
# Sets up whatever is missing, then runs the main job on a generated sample: one seed and
# four peers on this machine swarm a package. Each peer is told only the seed's address,
# finds the others through it, and serves them what it has while it downloads. The demo
# prints who sent how much to whom, and ends with VERIFY OK for every peer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
bytetide=$PWD/dist/bytetide
peers=4

work=$(mktemp -d "${TMPDIR:-/tmp}/bytetide-demo.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
wait_for() { for _ in $(seq 200); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done; echo "demo: timed out waiting for '$1' in $2" >&2; exit 1; }

step "generating a sample dataset in $work/dataset"
mkdir -p "$work/dataset/shards"
for i in 0 1 2; do head -c $((24 * 1024 * 1024 + i * 777)) /dev/urandom > "$work/dataset/shards/part-$i.bin"; done
printf '{"name": "demo", "shards": 3}\n' > "$work/dataset/manifest.json"
ln -s shards/part-0.bin "$work/dataset/first-shard"

step "bytetide make"
"$bytetide" make "$work/dataset" --chunk-size 256KiB

step "bytetide serve: the seed, its uplink capped at 20 MB/s so the peers must trade"
"$bytetide" serve "$work/dataset.bpkg" --listen 127.0.0.1:0 --max-upload-rate 20M > "$work/seed.out" 2> "$work/seed.log" &
pids+=($!)
wait_for ' on 127.0.0.1:' "$work/seed.out"
cat "$work/seed.out"
seed=$(sed -n 's/.* on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/seed.out")

step "bytetide get on $peers peers at once, each told only the seed's address ($seed)"
for n in $(seq 1 $peers); do
  "$bytetide" get "$work/dataset.bpkg" --peer "$seed" --listen 127.0.0.1:0 -o "$work/peer-$n/dataset" --linger 10s \
    > "$work/peer-$n.out" 2> "$work/peer-$n.log" &
  pids+=($!)
done
for n in $(seq 1 $peers); do wait "${pids[$n]}"; done

step "who sent how much to whom (MiB)"
{
  echo "seed $seed"
  for n in $(seq 1 $peers); do echo "peer-$n $(sed -n 's/.* listening address=\([^ ]*\).*/\1/p' "$work/peer-$n.log")"; done
} > "$work/names"
printf '%-8s' "to \\ from"; awk '{printf "%9s", $1}' "$work/names"; echo
for n in $(seq 1 $peers); do
  printf '%-8s' "peer-$n"
  while read -r name addr; do
    bytes=$(sed -n "s/.* received peer=$addr bytes=\([0-9]*\).*/\1/p" "$work/peer-$n.log")
    awk -v b="${bytes:-0}" 'BEGIN { printf "%9.1f", b / 1048576 }'
  done < "$work/names"
  echo
done

step "every peer's copy, verified on arrival and re-verified from disk"
for n in $(seq 1 $peers); do
  printf 'peer-%s: ' "$n"
  "$bytetide" verify "$work/dataset.bpkg" "$work/peer-$n/dataset"
done
