#!/usr/bin/env bash
# Capstan recorder benchmark: start latency (p50/p95 over 10 starts, with the server's breakdown), CPU and memory of
# one recording session (gst-launch-1.0, Xvfb, Chromium, its PulseAudio share) at 640x360@15, 1280x720@30 and
# 1920x1080@30 with 2 participants, frames in the file and grabbed with 1, 2, ... 720p30 recordings at once, and a
# 10-minute recording of a flash+beep page (sound/picture offsets at its start and end, stop to UPLOADED); the
# figures, their ratio to the targets and the machine load. Then track recordings (no targets): Janus's CPU and RSS
# without and with one, its start, stop to UPLOADED and the files, with 2 and 4 participants. And the native compositor
# (issue 13, a server with Recorder__Compositor=native) beside the browser in the same run: CPU of the recording with
# Janus's extra at 720p30 (2 and 4 participants) and 1080p30, start latency, native recordings at once, memory.
#   bench/recorder/run.sh [--quick] [--json FILE] [--only latency,cpu,concurrency,long,track,native,native-cpu,native-latency,native-concurrency]
#   (or: ./capstan bench recorder ...)
# --quick shortens everything for development (3 latency starts, 10 s windows, 1-minute long recording, one track run).
# Everything runs inside scripts/netns.sh; BENCH_OUT=DIR keeps the server logs and the recorder's capture logs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/recorder"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

scenarios='latency|cpu|concurrency|long|track|native|native-cpu|native-latency|native-concurrency'
usage() { echo "usage: $0 [--quick] [--json FILE] [--only ${scenarios//|/,}]" >&2; exit 2; }
args=()
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; args+=(--quick); shift ;;
    --json) [ $# -ge 2 ] || usage; args+=(--json "$(realpath -m "$2")"); shift 2 ;;
    --only) [ $# -ge 2 ] && [[ "$2" =~ ^($scenarios)(,($scenarios))*$ ]] || usage; args+=(--only "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

SERVER_DLL="$ROOT/src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll"
BENCH_DLL="$HERE/RecorderBench/bin/Release/net10.0/Capstan.Bench.Recorder.dll"

# --- what it needs: Janus, Xvfb, PulseAudio, ffmpeg, Chromium, iproute2 from Debian; the server and the benchmark ---
"$ROOT/scripts/deps.sh" test
echo "== build (Release): server and recorder benchmark"
dotnet build "$ROOT/src/Capstan.Server/Capstan.Server.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
dotnet build "$HERE/RecorderBench/RecorderBench.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly

work=$(mktemp -d /tmp/capstan-bench-recorder.XXXXXX)
chmod 755 "$work" # the recorder's unprivileged user passes it
cleanup() {
  # The program stops each server itself (SIGTERM; the server stops its recorder's processes); this covers a crash.
  local pid
  pid=$(cat "$work/server.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "Capstan.Server.dll"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "${BENCH_OUT:-}" ]; then
    mkdir -p "$BENCH_OUT"
    for d in "$work"/*/; do
      [ -d "$d" ] || continue
      name=$(basename "$d")
      mkdir -p "$BENCH_OUT/$name"
      cp -f "$d/server.log" "$BENCH_OUT/$name/" 2>/dev/null || true
      (cd "$d/data/recorder" 2>/dev/null && find . \( -name 'capture*.log' -o -name 'ffmpeg*.log' \) -exec cp --parents {} "$BENCH_OUT/$name/" \;) || true
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounded: the program has its own budget (about 2 hours, 67 minutes with --quick, for about 63 and 18 minutes of
# work, the native scenarios included); this is the backstop.
if [ "$quick" -eq 1 ]; then limit=4200; else limit=7800; fi
rc=0
timeout --foreground -k 20 "$limit" "$ROOT/scripts/netns.sh" dotnet "$BENCH_DLL" --server-dll "$SERVER_DLL" --work "$work" "${args[@]}" || rc=$?
[ "$rc" -eq 124 ] && echo "recorder benchmark: stopped after $limit s" >&2
exit "$rc"
