#!/usr/bin/env bash
# Installs what Capstan needs from Debian, only what is missing. Usage: scripts/deps.sh runtime|test
# runtime: what `./capstan up` needs to run the server; test: plus what the test suite starts.
set -euo pipefail

# Janus (the SFU) with the Debian janus.js and adapter.js the meeting page loads; the recorder's display,
# audio sink and browser; GStreamer for the capture (display + sound on one clock, encoders, Matroska, the
# watermark overlay, MPEG-TS for RTMP out); ffmpeg for joining, probing and pushing RTMP; clang, with which the
# build links the native compositor's host, compiled ahead of time (src/Capstan.CompositorHost).
runtime_pkgs=(ca-certificates janus janus-tools libjs-janus-gateway libjs-webrtc-adapter
  xvfb pulseaudio pulseaudio-utils ffmpeg chromium fonts-dejavu-core
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-pulseaudio
  clang)
# PostgreSQL for the API suites, Node for the official-SDK suite, iproute2 for the media namespace, nginx with
# the RTMP module as the RTMP-out target, systemd for systemd-analyze verify of the installed units, coturn as the
# TURN server of the relay test.
test_pkgs=(postgresql postgresql-client nodejs npm iproute2 util-linux nginx-light libnginx-mod-rtmp openssh-server openssh-client systemd coturn)

case "${1:-runtime}" in
  runtime) want=("${runtime_pkgs[@]}") ;;
  test) want=("${runtime_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${runtime_pkgs[@]}" "${test_pkgs[@]}" wrk) ;;
  *) echo "usage: $0 runtime|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # node and npm may come from elsewhere than Debian (the machine image): a working command is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "capstan: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "capstan: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
  exit 1
fi
