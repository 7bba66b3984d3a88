#!/usr/bin/env bash
# Capstan meeting benchmark: CPU (share of one core) and memory of Capstan.Server and of its Janus with 2 and 4
# participants in one meeting (headless Debian Chromium pages with fake camera and microphone), and the time from
# page load to the first remote video frame. It prints figures, not a verdict.
#   bench/meeting/run.sh [--seconds N] [--participants 2,4] [--warmup S] [--json FILE] [--no-warmup-meeting]
#   (or: ./capstan bench meeting ...)
# --seconds: the measured window of each scenario (default 60); --warmup: seconds of media before each window
# (default 5); a throwaway 2-participant meeting runs first unless --no-warmup-meeting. Everything runs inside
# scripts/netns.sh (Janus gathers no ICE candidates on loopback); BENCH_OUT=DIR keeps the server and Janus logs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/meeting"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

usage() { echo "usage: $0 [--seconds N] [--participants 2,4] [--warmup S] [--json FILE] [--no-warmup-meeting]" >&2; exit 2; }
seconds=60
participants=2,4
warmup=5
json=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage; seconds=$2; shift 2 ;;
    --participants) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+(,[0-9]+)*$ ]] || usage; participants=$2; shift 2 ;;
    --warmup) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage; warmup=$2; shift 2 ;;
    --json) [ $# -ge 2 ] || usage; json=(--json "$(realpath -m "$2")"); shift 2 ;;
    --no-warmup-meeting) extra+=(--no-warmup-meeting); shift ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

SERVER_DLL="$ROOT/src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll"
BENCH_DLL="$HERE/MeetingBench/bin/Release/net10.0/Capstan.Bench.Meeting.dll"

# --- what it needs: Janus, Chromium, iproute2 and unshare from Debian; the server and the benchmark in Release ---
"$ROOT/scripts/deps.sh" test
echo "== build (Release): server and meeting benchmark"
dotnet build "$ROOT/src/Capstan.Server/Capstan.Server.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
dotnet build "$HERE/MeetingBench/MeetingBench.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly

work=$(mktemp -d /tmp/capstan-bench-meeting.XXXXXX)
chmod 755 "$work" # the recorder's unprivileged user passes it
cleanup() {
  # The program stops the server itself; this covers a crash or a kill of the program.
  local pid
  pid=$(cat "$work/server.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "Capstan.Server.dll"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "${BENCH_OUT:-}" ]; then
    mkdir -p "$BENCH_OUT"
    cp -f "$work/server.log" "$BENCH_OUT/" 2>/dev/null || true
    cp -f "$work/data/janus/janus.log" "$BENCH_OUT/" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounded: the program has its own budget; this is the backstop (setup, and per scenario join + window + leave).
n_scen=$(tr ',' '\n' <<<"$participants" | grep -c .)
limit=$((500 + n_scen * (seconds + 240)))
rc=0
timeout --foreground -k 20 "$limit" "$ROOT/scripts/netns.sh" dotnet "$BENCH_DLL" --server-dll "$SERVER_DLL" --work "$work" \
  --seconds "$seconds" --warmup "$warmup" --participants "$participants" "${json[@]}" "${extra[@]}" || rc=$?
[ "$rc" -eq 124 ] && echo "meeting benchmark: stopped after $limit s" >&2
exit "$rc"
