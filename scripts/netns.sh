#!/usr/bin/env bash
# Runs a command in a new network namespace of its own: loopback up, and a veth pair (v0 10.99.0.1/24, v1)
# because Janus never gathers ICE candidates on loopback. Nothing inside can reach any other network.
#   scripts/netns.sh COMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
exec unshare -n bash -c '
  set -e
  ip link set lo up
  ip link add v0 type veth peer name v1
  ip addr add 10.99.0.1/24 dev v0
  ip link set v0 up
  ip link set v1 up
  export CAPSTAN_NETNS_INTERFACE=v0
  exec "$@"
' netns "$@"
