#!/usr/bin/env bash
# Capstan cluster benchmark: claim latency (INVOKED to claimed, from the worker's log) and start latency
# (started_time - invoked_time) on the cluster (API nodes a and b, workers w1 and w2 on one PostgreSQL) against one
# node doing everything, and the gap a recording gets when the worker holding it is killed (its whole process group).
# Every figure is printed with the machine's 1-minute load beside it.
#   bench/cluster/run.sh [--quick] [--only claim,single,loss,capacity]   (or: ./capstan bench cluster ...)
# --quick: 3 starts per setup and one node loss (about 3 minutes); the full run: 10 starts and 3 node losses.
# Everything runs inside scripts/netns.sh (Janus gathers no ICE candidates on loopback); CAPSTAN_CLUSTER_LOGS=DIR
# keeps every node's log.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/cluster"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

usage() { echo "usage: $0 [--quick] [--only claim,single,loss,capacity]" >&2; exit 2; }
args=()
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; args+=(--quick); shift ;;
    --only) [ $# -ge 2 ] && [[ "$2" =~ ^(claim|single|loss|capacity)(,(claim|single|loss|capacity))*$ ]] || usage; args+=(--only "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

# --- what it needs: PostgreSQL, Janus, Xvfb, PulseAudio, ffmpeg, Chromium from Debian; s3rver from npm ---
"$ROOT/scripts/deps.sh" test
s3=tests/Capstan.Storage.Tests/servers/s3rver
[ -d "$s3/node_modules" ] || (cd "$s3" && npm ci --no-audit --no-fund >/dev/null)
echo "== build (Release): server and cluster benchmark"
dotnet build "$ROOT/src/Capstan.Server/Capstan.Server.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
dotnet build "$HERE/ClusterBench/ClusterBench.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly

# Bounded: the program stops every node it started itself (the harness); this is the backstop.
if [ "$quick" -eq 1 ]; then limit=900; else limit=2400; fi
rc=0
timeout --foreground -k 30 "$limit" "$ROOT/scripts/netns.sh" dotnet "$HERE/ClusterBench/bin/Release/net10.0/Capstan.Bench.Cluster.dll" "${args[@]}" || rc=$?
[ "$rc" -eq 124 ] && echo "cluster benchmark: stopped after $limit s" >&2
exit "$rc"
