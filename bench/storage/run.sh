#!/usr/bin/env bash
# Capstan storage benchmark: upload throughput of one large file (default 500 MiB) to each local storage server
# the tests use (aws -> s3rver, azure -> Azurite, gcs -> firebase-tools' storage emulator, sftp -> OpenSSH sshd),
# through Capstan's own destinations, as a ratio to a plain file copy on the same disk in the same run; and the
# memory of the uploading process during each upload (it must stream, not buffer). It prints figures, not a verdict.
#   bench/storage/run.sh [--size-mb N] [--runs N] [--budget-s N] [--types aws,azure,gcs,sftp]
#   (or: ./capstan bench storage ...)
# --size-mb: the file (MiB, default 500); --runs: measured uploads per destination (default 3; the median is shown);
# --budget-s: the time the measurements may take (default 420): runs after a destination's first are skipped
# when its share would be exceeded. About 3-6 minutes with the defaults (at most ~7 of measuring).
# Needs root: the SFTP server runs as a throwaway chrooted user, and the page cache is dropped before each step.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/storage"
SERVERS="$ROOT/tests/Capstan.Storage.Tests/servers"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export npm_config_update_notifier=false

usage() { echo "usage: $0 [--size-mb N (>= 25, default 500)] [--runs N (1-9, default 3)] [--budget-s N (default 420)] [--types aws,azure,gcs,sftp]" >&2; exit 2; }
size_mb=500
runs=3
budget=420
types=aws,azure,gcs,sftp
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] && [ "$2" -ge 25 ] || usage; size_mb=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9]$ ]] || usage; runs=$2; shift 2 ;;
    --budget-s) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] && [ "$2" -ge 30 ] || usage; budget=$2; shift 2 ;;
    --types) [ $# -ge 2 ] && [[ "$2" =~ ^(aws|azure|gcs|sftp)(,(aws|azure|gcs|sftp))*$ ]] || usage; types=$2; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "storage benchmark: not root: the sftp case will fail (it creates a user for sshd) and the page cache cannot be dropped" >&2
fi

# Room for the file, its copy, and one server's data (s3rver keeps the parts and the assembled object): ~4x.
tmp=${TMPDIR:-/tmp}
avail_kb=$(df --output=avail -k "$tmp" | tail -1 | tr -d ' ')
need_kb=$(( (size_mb * 4 + 512) * 1024 ))
if [ "$avail_kb" -lt "$need_kb" ]; then
  echo "storage benchmark: $tmp has $((avail_kb / 1024)) MiB free, about $((need_kb / 1024)) MiB are needed" >&2
  exit 1
fi

# --- what it needs: Node, npm and openssh-server from Debian; the three npm servers (pinned lock files) ---
"$ROOT/scripts/deps.sh" test
install_server() { # dir, file that proves it is installed, npm ci arguments...
  local dir=$1 proof=$2; shift 2
  if [ ! -e "$SERVERS/$dir/node_modules/$proof" ]; then
    echo "== npm ci in tests/Capstan.Storage.Tests/servers/$dir"
    (cd "$SERVERS/$dir" && npm ci --no-audit --no-fund --loglevel=error "$@")
  fi
}
install_server s3rver s3rver/bin/s3rver.js
install_server azurite azurite/dist/src/blob/main.js
# Install scripts skipped: only protobufjs's notice and the optional re2 build (which would download).
install_server gcs firebase-tools/lib/emulator/storage/index.js --ignore-scripts --omit=optional

echo "== build (Release): storage benchmark (with Capstan.Server)"
dotnet build "$HERE/StorageBench/StorageBench.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
BENCH_DLL="$HERE/StorageBench/bin/Release/net10.0/Capstan.Bench.Storage.dll"

# Bounded: each step has its own limit in the program; this is the backstop. timeout runs the program in a
# process group of its own and signals the whole group, servers included; the program stops its servers (and
# removes the SFTP user) on SIGTERM/SIGINT.
limit=$((budget + 180 + size_mb / 5))
rc=0
timeout -k 20 "$limit" dotnet "$BENCH_DLL" --size-mb "$size_mb" --runs "$runs" --budget-s "$budget" --types "$types" || rc=$?
[ "$rc" -eq 124 ] && echo "storage benchmark: stopped after $limit s" >&2
exit "$rc"
