#!/usr/bin/env bash
# Emulated hosts on one machine, for swarm tests and benchmarks: N network namespaces on
# one bridge, each with its own address and its uplink and downlink shaped with tc.
#
#   scripts/netlab.sh up N RATE_MBIT [NAME...]   create hosts 0..N-1 (10.77.0.1 ... 10.77.0.N),
#                                                 the first ones named NAME... (see below)
#   scripts/netlab.sh names NAME...              rename: host I is now the I-th NAME, on every host
#                                                 at once (programs see it at their next lookup)
#   scripts/netlab.sh exec I CMD...              run CMD on host I
#   scripts/netlab.sh addr I                     print host I's address
#   scripts/netlab.sh crossed                    with zones: bytes that crossed the link between them
#   scripts/netlab.sh down                       remove everything this script created
#
# Needs root and iproute2. Only the project's own namespaces and addresses are used; the
# 10.77.0.0/24 range exists only inside them. NETLAB_PREFIX (default btl) names them, so
# separate labs can coexist; `down` removes every namespace with that prefix, so it also
# cleans up after a run that died. NETLAB_SUBNET (default 10.77.0) picks another private
# /24 inside the namespaces, e.g. 10.0.0 to run documented commands that name 10.0.0.1.
# NETLAB_ZONES=K:LINK_MBIT makes two zones, as two racks: hosts 0..K-1 on one bridge, the
# rest on another, the two joined by one link shaped to LINK_MBIT each way, whose
# counters `crossed` reads.
#
# Names: `ip netns exec NS` bind-mounts each file of /etc/netns/NS over /etc, so a host
# with names gets /etc/netns/NS/hosts mapping every name to its address, and a resolv.conf
# that points at the namespace's own loopback: a name outside the lab fails at once
# instead of sending a DNS query anywhere. `down` removes those directories too.
set -euo pipefail
prefix=${NETLAB_PREFIX:-btl}
subnet=${NETLAB_SUBNET:-10.77.0}
core="$prefix-core"
host() { echo "$prefix-h$1"; }
addr() { echo "$subnet.$(($1 + 1))"; }
ours() { grep -E "^$prefix-(core|h[0-9]+)$" || true; }

if ! [[ $subnet =~ ^10\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || [ "${BASH_REMATCH[1]}" -gt 255 ] || [ "${BASH_REMATCH[2]}" -gt 255 ]; then
  echo "netlab: NETLAB_SUBNET must be 10.X.Y (a private /24), not '$subnet'" >&2
  exit 2
fi

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | ours); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  # Also the name files of namespaces that a dead run left behind.
  for ns in $(ls /etc/netns 2>/dev/null | ours); do
    rm -rf "/etc/netns/$ns"
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

check_names() {
  local n=$1; shift
  [ "$#" -le "$n" ] || { echo "netlab: $# names for $n hosts" >&2; exit 2; }
  local name
  for name in "$@"; do
    [[ $name =~ ^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$ ]] || { echo "netlab: '$name' is not a host name" >&2; exit 2; }
  done
  local dup; dup=$(printf '%s\n' "$@" | sort | uniq -d | head -n 1)
  [ -z "$dup" ] || { echo "netlab: name '$dup' given twice" >&2; exit 2; }
}

hosts_up() { ip netns list 2>/dev/null | awk '{print $1}' | grep -cE "^$prefix-h[0-9]+$" || true; }

# Every host sees the same table: localhost, then each named host's address. The files are
# rewritten in place, so a program already running in a namespace (which sees them through
# a bind mount of the same inode) reads the new names at its next lookup.
write_names() {
  local n; n=$(hosts_up)
  check_names "$n" "$@"
  local names=("$@") hosts i ns
  hosts=$(
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    for i in "${!names[@]}"; do printf '%s\t%s\n' "$(addr "$i")" "${names[$i]}"; done
  )
  for i in $(seq 0 $((n - 1))); do
    ns=$(host "$i")
    mkdir -p "/etc/netns/$ns"
    printf '%s\n' "$hosts" > "/etc/netns/$ns/hosts"
    printf '# netlab %s: names come from hosts; DNS stays inside the namespace\nnameserver 127.0.0.1\n' "$prefix" > "/etc/netns/$ns/resolv.conf"
  done
}

up() {
  local n=$1 rate=$2; shift 2
  [ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "netlab: N must be 1..200" >&2; exit 2; }
  check_names "$n" "$@"
  down
  ip netns add "$core"
  ip -n "$core" link set lo up
  ip -n "$core" link add br0 type bridge
  ip -n "$core" link set br0 up
  local split=$n
  if [ -n "${NETLAB_ZONES:-}" ]; then
    [[ $NETLAB_ZONES =~ ^([0-9]+):([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -lt "$n" ] \
      || { echo "netlab: NETLAB_ZONES must be K:LINK_MBIT with 1 <= K < N, not '$NETLAB_ZONES'" >&2; exit 2; }
    split=${BASH_REMATCH[1]}
    ip -n "$core" link add br1 type bridge
    ip -n "$core" link set br1 up
    ip -n "$core" link add z0 type veth peer name z1
    ip -n "$core" link set z0 master br0 up
    ip -n "$core" link set z1 master br1 up
    shape "$core" z0 "${BASH_REMATCH[2]}"   # towards zone 1
    shape "$core" z1 "${BASH_REMATCH[2]}"   # towards zone 0
  fi
  for i in $(seq 0 $((n - 1))); do
    local ns; ns=$(host "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$core" link add "v$i" type veth peer name eth0 netns "$ns"
    ip -n "$core" link set "v$i" master "$([ "$i" -lt "$split" ] && echo br0 || echo br1)" up
    ip -n "$ns" addr add "$(addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    shape "$ns" eth0 "$rate"      # the host's uplink
    shape "$core" "v$i" "$rate"   # its downlink: what the bridge sends towards it
  done
  [ "$#" -eq 0 ] || write_names "$@"
}

case "${1:-}" in
  up) n=${2:?N}; rate=${3:?RATE_MBIT}; shift 3; up "$n" "$rate" "$@" ;;
  names) shift; [ "$(hosts_up)" -gt 0 ] || { echo "netlab: no hosts with prefix $prefix" >&2; exit 2; }; write_names "$@" ;;
  down) down ;;
  exec) i=${2:?I}; shift 2; exec ip netns exec "$(host "$i")" "$@" ;;
  addr) addr "${2:?I}" ;;
  crossed) echo $(( $(ip netns exec "$core" cat /sys/class/net/z0/statistics/tx_bytes) + $(ip netns exec "$core" cat /sys/class/net/z1/statistics/tx_bytes) )) ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
