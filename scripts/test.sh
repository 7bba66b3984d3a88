#!/usr/bin/env bash
# Runs every test: the .NET suites (API on SQLite and PostgreSQL, SDK and CLI) and the official-SDK compatibility suite
# against a live server on each database. Installs and starts what it needs (PostgreSQL from Debian).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

"$ROOT/scripts/deps.sh" test

work=$(mktemp -d /tmp/capstan-test.XXXXXX)
chmod 755 "$work"
pgdir="$work/pg"
cleanup() { "$ROOT/scripts/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
export CAPSTAN_TEST_PG=$("$ROOT/scripts/pg.sh" start "$pgdir" "$pgport")
echo "== PostgreSQL up: $CAPSTAN_TEST_PG"

echo "== storage test servers (npm: s3rver, azurite, firebase-tools storage emulator)"
for d in tests/Capstan.Storage.Tests/servers/*/; do
  if [ ! -d "$d/node_modules" ]; then
    flags=(--no-audit --no-fund)
    # firebase-tools: only its storage emulator's JavaScript is used; no install scripts, no optional natives.
    [ "$(basename "$d")" = gcs ] && flags+=(--ignore-scripts --omit=optional)
    (cd "$d" && npm ci "${flags[@]}" >/dev/null)
  fi
done
if [ ! -d tests/sdk-compat/node_modules ]; then (cd tests/sdk-compat && npm ci --no-audit --no-fund >/dev/null); fi

echo "== build"
dotnet build Capstan.slnx -c Release -v quiet -nologo -clp:ErrorsOnly

passed=0; failed=0; skipped=0
count() { # adds the totals of the Microsoft.Testing.Platform summary in file $1
  local f s k
  f=$(grep -E "^\s*failed: [0-9]+" "$1" | tail -n1 | grep -oE "[0-9]+" || true)
  s=$(grep -E "^\s*succeeded: [0-9]+" "$1" | tail -n1 | grep -oE "[0-9]+" || true)
  k=$(grep -E "^\s*skipped: [0-9]+" "$1" | tail -n1 | grep -oE "[0-9]+" || true)
  passed=$((passed + ${s:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${k:-0}))
  [ -n "$s" ] || { echo "no .NET test summary found"; status=1; }
}
status=0

echo "== .NET API tests (SQLite and PostgreSQL)"
dotnet test --project tests/Capstan.Server.Tests -c Release --no-build 2>&1 | tee "$work/dotnet.log" || status=1
count "$work/dotnet.log"

echo "== .NET SDK and CLI tests (live server, SQLite)"
dotnet test --project tests/Capstan.Client.Tests -c Release --no-build 2>&1 | tee "$work/client.log" || status=1
count "$work/client.log"

echo "== storage conformance (s3rver, azurite, GCS emulator, OpenSSH)"
dotnet test --project tests/Capstan.Storage.Tests -c Release --no-build 2>&1 | tee "$work/storage.log" || status=1
count "$work/storage.log"

echo "== media tests (Janus, Chromium, recorder, delivery) in a network namespace of their own"
"$ROOT/scripts/netns.sh" dotnet test --project tests/Capstan.Media.Tests -c Release --no-build 2>&1 | tee "$work/media.log" || status=1
count "$work/media.log"

echo "== official SDK compatibility (cloudflare@7.3.0): SQLite and PostgreSQL"
for db in sqlite postgres; do
  if "$ROOT/tests/sdk-compat/run.sh" "$db" 2>&1 | tee "$work/sdk-$db.log"; then :; else status=1; fi
  p=$(grep -E "^# pass [0-9]+" "$work/sdk-$db.log" | tail -n1 | awk '{print $3}'); f=$(grep -E "^# fail [0-9]+" "$work/sdk-$db.log" | tail -n1 | awk '{print $3}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  [ -n "$p" ] || { echo "sdk-compat ($db) ran no test"; status=1; }
done

echo
# The failed tests by name, with the first lines of each message: a CI log's tail must say what failed.
for log in "$work"/*.log; do
  grep -A6 -E "^\s*failed \S|^not ok " "$log" | sed "s|^|$(basename "$log" .log): |" | head -n 60 || true
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || status=1
exit $status
