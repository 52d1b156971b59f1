#!/usr/bin/env bash
# Emulated hosts on one machine, for swarm tests and benchmarks: N network namespaces on
# one bridge, each with its own address and its uplink and downlink shaped with tc.
#
#   scripts/netlab.sh up N RATE_MBIT    create hosts 0..N-1 (10.77.0.1 ... 10.77.0.N)
#   scripts/netlab.sh exec I CMD...     run CMD on host I
#   scripts/netlab.sh addr I            print host I's address
#   scripts/netlab.sh down              remove everything this script created
#
# Needs root and iproute2. Only the project's own namespaces and addresses are used; the
# 10.77.0.0/24 range exists only inside them. NETLAB_PREFIX (default btl) names them, so
# separate labs can coexist; `down` removes every namespace with that prefix, so it also
# cleans up after a run that died.
set -euo pipefail
prefix=${NETLAB_PREFIX:-btl}
core="$prefix-core"
host() { echo "$prefix-h$1"; }
addr() { echo "10.77.0.$(($1 + 1))"; }

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$prefix-(core|h[0-9]+)$" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

# tbf: RATE mbit, a burst of at least one timer tick's worth, and a short queue.
shape() {
  local ns=$1 dev=$2 rate=$3
  local burst=$(( rate * 1000000 / 8 / 100 ))
  [ "$burst" -lt 32768 ] && burst=32768
  ip -n "$ns" link set "$dev" txqueuelen 1000
  ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${rate}mbit" burst "$burst" latency 50ms
}

up() {
  local n=$1 rate=$2
  [ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "netlab: N must be 1..200" >&2; exit 2; }
  down
  ip netns add "$core"
  ip -n "$core" link set lo up
  ip -n "$core" link add br0 type bridge
  ip -n "$core" link set br0 up
  for i in $(seq 0 $((n - 1))); do
    local ns; ns=$(host "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$core" link add "v$i" type veth peer name eth0 netns "$ns"
    ip -n "$core" link set "v$i" master br0 up
    ip -n "$ns" addr add "$(addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    shape "$ns" eth0 "$rate"      # the host's uplink
    shape "$core" "v$i" "$rate"   # its downlink: what the bridge sends towards it
  done
}

case "${1:-}" in
  up) up "${2:?N}" "${3:?RATE_MBIT}" ;;
  down) down ;;
  exec) i=${2:?I}; shift 2; exec ip netns exec "$(host "$i")" "$@" ;;
  addr) addr "${2:?I}" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
