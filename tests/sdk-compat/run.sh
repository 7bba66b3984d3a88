#!/usr/bin/env bash
# Official-SDK compatibility suite: starts a fresh Capstan server (SQLite or a new PostgreSQL database) and
# drives it with the npm package `cloudflare` at 7.3.0 through `node --test`.
#
#   tests/sdk-compat/run.sh sqlite|postgres
#
# Environment:
#   CAPSTAN_TEST_PG      postgres only: a connection string of a cluster whose role may CREATE DATABASE,
#                        e.g. Host=127.0.0.1;Port=55432;Database=capstan;Username=capstan;Password=capstan
#   CAPSTAN_SERVER_DLL   the server to run (default: src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll)
#   CAPSTAN_SDK_TESTS    test files to run instead of all of test/*.test.mjs (paths relative to this folder)
# Exit status: 0 when the server started, every test passed and the server stopped cleanly on SIGTERM.
set -euo pipefail

db=${1:-}
case "$db" in
  sqlite | postgres) ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { echo "sdk-compat($db): $*"; }
die() { echo "sdk-compat($db): $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node (20 or newer) is required"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "node 20 or newer is required, found $(node --version)"
command -v dotnet >/dev/null 2>&1 || die "dotnet is required"
command -v curl >/dev/null 2>&1 || die "curl is required"

# 1. The server build.
DLL=${CAPSTAN_SERVER_DLL:-$ROOT/src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll}
if [ ! -f "$DLL" ]; then
  [ -z "${CAPSTAN_SERVER_DLL:-}" ] || die "CAPSTAN_SERVER_DLL=$DLL does not exist"
  say "building the server (not found at $DLL)"
  dotnet build "$ROOT/src/Capstan.Server/Capstan.Server.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
  [ -f "$DLL" ] || die "the build did not produce $DLL"
fi

# 2. The SDK, exactly as locked.
if [ ! -d "$HERE/node_modules/cloudflare" ]; then
  say "npm ci"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
sdk_version=$(node -p 'require(process.argv[1]).version' "$HERE/node_modules/cloudflare/package.json")
[ "$sdk_version" = "7.3.0" ] || die "node_modules has cloudflare@$sdk_version, expected 7.3.0 (delete node_modules and rerun)"

# 3. A fresh data folder, credentials, and for postgres a new database.
work=$(mktemp -d "${TMPDIR:-/tmp}/capstan-sdk-$db.XXXXXX")
data="$work/data"
log="$work/server.log"
mkdir -p "$data"
: >"$log"
server_pid=""
pg_db=""
status=1

pg_field() { # pg_field NAME...: the value of the first key of $CAPSTAN_TEST_PG matching one of NAME (case-insensitive)
  local part key val want parts
  IFS=";" read -r -a parts <<<"$CAPSTAN_TEST_PG"
  for part in "${parts[@]}"; do
    key=$(echo "${part%%=*}" | tr -d ' ' | tr '[:upper:]' '[:lower:]')
    val=${part#*=}
    for want in "$@"; do
      if [ "$key" = "$want" ]; then printf '%s' "$val"; return 0; fi
    done
  done
  return 0
}

pg_psql() { # pg_psql SQL: runs SQL in the maintenance database of $CAPSTAN_TEST_PG
  PGPASSWORD="$pg_password" PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 \
    -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$pg_maint" -c "$1"
}

stop_server() { # stop_server SECONDS: SIGTERM, then waits; sets server_exit ("timeout" if it did not exit)
  local deadline=$((SECONDS + $1))
  server_exit=""
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  while kill -0 "$server_pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      server_exit="timeout"
      kill -KILL "$server_pid" 2>/dev/null || true
      wait "$server_pid" 2>/dev/null || true
      server_pid=""
      return 0
    fi
    sleep 0.2
  done
  set +e
  wait "$server_pid"
  server_exit=$?
  set -e
  server_pid=""
}

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then stop_server 15 || true; fi
  if [ "$status" -ne 0 ] || [ "$rc" -ne 0 ]; then
    if [ -s "$log" ]; then
      echo "---- server log (last 80 lines): $log" >&2
      tail -n 80 "$log" >&2 || true
      echo "---- end of server log" >&2
    fi
  fi
  if [ -n "$pg_db" ]; then
    pg_psql "DROP DATABASE IF EXISTS \"$pg_db\";" >/dev/null 2>&1 \
      || pg_psql "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE);" >/dev/null 2>&1 \
      || echo "sdk-compat($db): could not drop database $pg_db" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db_args=()
if [ "$db" = postgres ]; then
  [ -n "${CAPSTAN_TEST_PG:-}" ] || die "CAPSTAN_TEST_PG is not set: give the connection string of a PostgreSQL cluster whose role can CREATE DATABASE, e.g. CAPSTAN_TEST_PG='Host=127.0.0.1;Port=55432;Database=capstan;Username=capstan;Password=capstan' (scripts/pg.sh start DIR PORT prints one)"
  command -v psql >/dev/null 2>&1 || die "psql is required for postgres"
  pg_host=$(pg_field host server); pg_host=${pg_host:-127.0.0.1}
  pg_port=$(pg_field port); pg_port=${pg_port:-5432}
  pg_user=$(pg_field username 'userid' user); [ -n "$pg_user" ] || die "CAPSTAN_TEST_PG has no Username"
  pg_password=$(pg_field password)
  pg_maint=$(pg_field database db); pg_maint=${pg_maint:-postgres}
  candidate="capstan_sdk_$(node -p 'require("crypto").randomBytes(6).toString("hex")')"
  pg_psql "CREATE DATABASE \"$candidate\";" >/dev/null || die "could not create database $candidate on $pg_host:$pg_port as $pg_user"
  pg_db=$candidate
  # The same connection string with Database= replaced by the new database.
  conn=$(printf '%s' "$CAPSTAN_TEST_PG" | tr ';' '\n' | grep -viE '^[[:space:]]*(database|db)[[:space:]]*=' | grep -v '^[[:space:]]*$' | paste -sd ';' - || true)
  conn="$conn;Database=$pg_db"
  db_args=(--database "$conn")
  say "PostgreSQL database $pg_db on $pg_host:$pg_port"
fi

# Credentials: a 32-hex account id, a uuid app id, cap_ + 40 url-safe characters.
read -r account_id app_id api_token < <(node -e '
  const c = require("crypto");
  const token = "cap_" + c.randomBytes(30).toString("base64url").slice(0, 40);
  console.log(c.randomBytes(16).toString("hex"), c.randomUUID(), token);')
[[ "$account_id" =~ ^[0-9a-f]{32}$ && -n "$app_id" && "$api_token" == cap_* ]] || die "could not generate credentials"

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

start_server() { # start_server PORT
  env -u Webhooks__AllowPrivateTargets -u WEBHOOKS__ALLOWPRIVATETARGETS -u Outbound__AllowPrivateTargets -u OUTBOUND__ALLOWPRIVATETARGETS \
    CAPSTAN_BOOTSTRAP_ACCOUNT_ID="$account_id" CAPSTAN_BOOTSTRAP_APP_ID="$app_id" CAPSTAN_BOOTSTRAP_TOKEN="$api_token" \
    Janus__Enabled=false Recorder__Enabled=false \
    dotnet "$DLL" serve --port "$1" --data-dir "$data" "${db_args[@]}" >>"$log" 2>&1 &
  server_pid=$!
}

# 4. Start and wait for /healthz (60 s). A port taken between picking and binding gets another try.
url=""
for attempt in 1 2 3; do
  port=$(free_port)
  start_server "$port"
  deadline=$((SECONDS + 60))
  while :; do
    if curl -fsS -o /dev/null --noproxy "*" --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null; then
      url="http://127.0.0.1:$port"
      break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      set +e; wait "$server_pid"; rc=$?; set -e
      server_pid=""
      if grep -qiE 'address already in use|EADDRINUSE' "$log" && [ "$attempt" -lt 3 ]; then
        say "port $port was taken, trying another"
        break
      fi
      die "the server exited with status $rc before answering /healthz"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "the server did not answer GET /healthz within 60 s"
    sleep 0.25
  done
  [ -z "$url" ] || break
done
[ -n "$url" ] || die "could not start the server"
say "server up at $url (pid $server_pid, cloudflare@$sdk_version, node $(node --version))"

# 5. The tests. TAP output (scripts/test.sh counts '# pass N' and '# fail N').
if [ -n "${CAPSTAN_SDK_TESTS:-}" ]; then
  read -r -a files <<<"$CAPSTAN_SDK_TESTS"
else
  files=()
  for f in "$HERE"/test/*.test.mjs; do files+=("test/${f##*/}"); done
fi
set +e
(
  cd "$HERE"
  # The SDK reads CLOUDFLARE_* from the environment: none may leak into the tests.
  env -u CLOUDFLARE_API_TOKEN -u CLOUDFLARE_API_KEY -u CLOUDFLARE_EMAIL -u CLOUDFLARE_API_USER_SERVICE_KEY \
    -u CLOUDFLARE_BASE_URL -u CLOUDFLARE_CUSTOM_HEADERS -u CLOUDFLARE_LOG \
    CAPSTAN_URL="$url" CAPSTAN_ACCOUNT_ID="$account_id" CAPSTAN_APP_ID="$app_id" CAPSTAN_TOKEN="$api_token" \
    CAPSTAN_DB="$db" \
    node --test --test-reporter=tap --test-timeout=120000 "${files[@]}"
)
tests_rc=$?
set -e

# 6. SIGTERM; the server must exit 0 within 15 s.
stop_server 15
shutdown_ok=1
if [ "$server_exit" = "timeout" ]; then
  echo "sdk-compat($db): the server did not exit within 15 s of SIGTERM" >&2
  shutdown_ok=0
elif [ "$server_exit" != "0" ]; then
  echo "sdk-compat($db): the server exited with status $server_exit after SIGTERM (expected 0)" >&2
  shutdown_ok=0
else
  say "server stopped cleanly"
fi

if [ "$tests_rc" -eq 0 ] && [ "$shutdown_ok" -eq 1 ]; then
  status=0
  say "PASS"
else
  [ "$tests_rc" -eq 0 ] || echo "sdk-compat($db): tests failed (node --test exit $tests_rc)" >&2
  say "FAIL"
fi
exit "$status"
