#!/usr/bin/env bash
# Sets up whatever is missing, then shows rarest-first piece selection on this machine
# (127.0.0.1 only). Four peers each hold a different part of a generated package, with no
# full seed anywhere:
#   - the common chunks, at the start of the package: each held by 3 of the 4 peers;
#   - the rare chunks, at the end: 4 ranges, each held by one peer only.
# A fresh getter downloads from all four with --log-requests. Asking each peer for its
# rare chunks first puts them early in the request order, although they sit at the end
# of the file. The demo prints that order and a summary, fails if the rare chunks were
# not asked for first, and ends with VERIFY OK.
#
# Why every peer holds a rare range: the policy orders the chunks one peer can give
# (src/swarm/picker.ts). With a single rare holder, its rare chunks would be first among
# its own requests but spread over the whole order, since the other peers are asked at
# the same time. The getter's first few picks are random by design (until it holds 4
# chunks: src/swarm/scheduler.ts), so the summary measures the whole order rather than
# its first lines.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
bytetide=$PWD/dist/bytetide
bun=$PWD/node_modules/.bin/bun

peers=4
common=384              # chunks 0..383: each held by every peer but one
rare_each=32            # then 32 chunks per peer that only it holds
chunk_kib=64
chunks=$((common + peers * rare_each))
# Below this share of rare-before-common pairs, rarest first did not hold. A random order
# scores about 50%, the file's order 0% (the rare chunks come last); rarest first, 80-90%.
min_share=70

work=$(mktemp -d "${TMPDIR:-/tmp}/bytetide-rarest.XXXXXX")
# Every process started here stops with the demo: asked first, then told, within 5 s.
# `jobs -p` names them all, even one whose start a signal interrupted.
cleanup() {
  local pids alive
  pids=$(jobs -p)
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { printf '\n== %s\n' "$*"; }
wait_for() { for _ in $(seq 600); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done; echo "demo: timed out waiting for '$1' in $2" >&2; exit 1; }

step "generating a package of $chunks chunks of $chunk_kib KiB in $work"
head -c $((chunks * chunk_kib * 1024)) /dev/urandom > "$work/data.bin"
"$bytetide" make "$work/data.bin" --chunk-size "${chunk_kib}KiB"

step "$peers peers, each a download stopped part-way (no full seed anywhere)"
for n in $(seq 1 $peers); do
  k=$((n - 1))
  held_common=$(seq 0 $((common - 1)) | awk -v k=$k -v p=$peers '$1 % p != k' | paste -sd,)
  rare_from=$((common + k * rare_each))
  rare_to=$((rare_from + rare_each - 1))
  timeout 60 "$bun" scripts/lib/partial-peer.ts "$work/data.bin.bpkg" "$work/data.bin" "$work/peer-$n/data.bin" "$held_common,$rare_from-$rare_to"
  # It resumes what it holds and serves it. Its only --peer is a port where nothing
  # listens, so it keeps waiting (--retry-for); --max-peers 1 keeps it from trading with
  # the other peers, whose addresses the getter passes on, so availability stays as set.
  "$bytetide" get "$work/data.bin.bpkg" -o "$work/peer-$n/data.bin" --peer 127.0.0.1:1 --listen 127.0.0.1:0 \
    --retry-for 2m --max-peers 1 > "$work/peer-$n.out" 2> "$work/peer-$n.log" &
  printf 'peer-%s holds the common chunks 0-%s but %s, %s, %s, ...; and the rare chunks %s-%s\n' \
    "$n" $((common - 1)) "$k" $((k + peers)) $((k + 2 * peers)) "$rare_from" "$rare_to"
done
args=()
for n in $(seq 1 $peers); do
  wait_for ' listening address=' "$work/peer-$n.log"
  args+=(--peer "$(sed -n 's/.* listening address=\([^ ]*\).*/\1/p' "$work/peer-$n.log")")
done

step "bytetide get --log-requests from all $peers peers"
# In the background, so that a signal to the demo is acted on at once, not after it.
timeout 90 "$bytetide" get "$work/data.bin.bpkg" "${args[@]}" --listen 127.0.0.1:0 -o "$work/getter/data.bin" \
  --linger 0 --log-requests > "$work/getter.out" 2> "$work/getter.log" &
if ! wait $!; then
  tail -n 20 "$work/getter.log" >&2
  echo "demo: the getter failed" >&2
  exit 1
fi
grep -v ' get request ' "$work/getter.log" | grep -E ' get (peer-connected|received|done) ' || true

# The first request for each chunk, in order (in endgame a chunk may be asked twice).
sed -n 's/.* get request chunk=\([0-9]*\) .*/\1/p' "$work/getter.log" | awk '!seen[$1]++' > "$work/order"
[ "$(wc -l < "$work/order")" -eq "$chunks" ] || { echo "demo: expected a request for each of $chunks chunks" >&2; exit 1; }

step "the getter's request order, first request for each chunk (* = rare: 1 holder; the others have $((peers - 1)))"
awk -v c="$common" '{ printf "%s%5d%s", (NR % 16 == 1 ? sprintf("%4d-%-4d", NR, NR + 15) : ""), $1, ($1 >= c ? "*" : " ") } NR % 16 == 0 { print "" }' "$work/order"

step "summary"
awk -v c="$common" -v min="$min_share" -v holders=$((peers - 1)) '
  { if ($1 >= c) rare[++r] = NR; else com[++m] = NR }
  function median(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END {
    # Positions are already in order. Pairs (rare, common) where the rare one came first:
    j = 1; pairs = 0
    for (i = 1; i <= r; i++) { while (j <= m && com[j] < rare[i]) j++; pairs += m - j + 1 }
    share = 100 * pairs / (r * m)
    printf "rare chunks   (%d, 1 holder each): median position %d of %d; all asked for by position %d\n", r, median(rare, r), NR, rare[r]
    printf "common chunks (%d, %d holders each): median position %d of %d\n", m, holders, median(com, m), NR
    printf "a rare chunk was asked for before a common one in %.0f%% of the %d pairs (random order: about 50%%; file order: 0%%)\n", share, r * m
    if (share >= min && median(rare, r) < median(com, m)) { print "rarest first: held"; exit 0 }
    printf "rarest first: NOT held (needs at least %d%%)\n", min; exit 1
  }' "$work/order" || { echo "demo: the rare chunks were not asked for first" >&2; exit 1; }

step "the getter's copy, verified on arrival and re-verified from disk"
grep '^VERIFY OK ' "$work/getter.out" || { echo "demo: the getter did not print VERIFY OK" >&2; exit 1; }
"$bytetide" verify "$work/data.bin.bpkg" "$work/getter/data.bin"
