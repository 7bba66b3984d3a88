#!/usr/bin/env bash
# Capstan API benchmark: load over loopback on GET one recording, filtered paged lists over 100,000 recordings
# and start+stop, against the trivial GET /healthz of the same server in the same run, on SQLite and PostgreSQL.
#   bench/api/run.sh [sqlite|postgres|both]      (or: ./capstan bench api [sqlite|postgres|both])
# Settings (environment): BENCH_DURATION=10 BENCH_WARMUP=2 BENCH_CONCURRENCY=16 BENCH_RECORDINGS=100000
#   BENCH_MEETINGS=1000 BENCH_LIST_PAGES=50 BENCH_PORT (server, default: first free from 18480)
#   BENCH_PG_PORT (default: first free from 55450) BENCH_SCENARIOS=healthz,get_one,list_status,list_meeting,start_stop
#   BENCH_LOAD=auto|wrk|dotnet (what drives the GET scenarios: wrk when installed, else the .NET client;
#   start+stop is always the .NET client, it chains two requests)   BENCH_OUT=DIR (keep the JSON figures, the summary and the server logs there)
# It prints figures, not a verdict: the exit status is non-zero only when something failed (setup, errors).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/api"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

which=${1:-both}
case "$which" in
  sqlite) dbs=(sqlite) ;;
  postgres) dbs=(postgres) ;;
  both) dbs=(sqlite postgres) ;;
  *) echo "usage: $0 [sqlite|postgres|both]" >&2; exit 2 ;;
esac

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-16}
RECORDINGS=${BENCH_RECORDINGS:-100000}
MEETINGS=${BENCH_MEETINGS:-1000}
LIST_PAGES=${BENCH_LIST_PAGES:-50}
SCENARIOS=${BENCH_SCENARIOS:-healthz,get_one,list_status,list_meeting,start_stop}
LOAD=${BENCH_LOAD:-auto}
SERVER_DLL="$ROOT/src/Capstan.Server/bin/Release/net10.0/Capstan.Server.dll"
CLIENT_DLL="$HERE/LoadClient/bin/Release/net10.0/Capstan.Bench.LoadClient.dll"

# --- what it needs: PostgreSQL (and wrk) from Debian, the server and the load client in Release ---
"$ROOT/scripts/deps.sh" bench
echo "== build (Release): server and load client"
dotnet build "$ROOT/src/Capstan.Server/Capstan.Server.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
dotnet build "$HERE/LoadClient/LoadClient.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly

work=$(mktemp -d /tmp/capstan-bench-api.XXXXXX)
chmod 755 "$work" # the recorder's unprivileged user passes it
chmod 755 "$work" # the PostgreSQL cluster below it runs as the postgres user
server_pid=""
pg_dir=""

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
stop_pg() {
  if [ -n "$pg_dir" ]; then "$ROOT/scripts/pg.sh" stop "$pg_dir" >/dev/null 2>&1 || true; fi
  pg_dir=""
}
cleanup() {
  stop_server
  stop_pg
  if [ -n "${BENCH_OUT:-}" ]; then mkdir -p "$BENCH_OUT" && cp -f "$work"/*.json "$work"/*.log "$work"/summary.txt "$BENCH_OUT"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port is free when nothing accepts a connection on it.
port_free() { ! (exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$1"); }
free_port() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}
healthy() ( # GET /healthz answers 200 (bash's /dev/tcp: no curl needed)
  exec 2>/dev/null
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  IFS= read -r -t 2 line <&3 || exit 1
  [[ "$line" == *" 200 "* ]]
)
new_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

status=0
results=()
for db in "${dbs[@]}"; do
  echo
  port=${BENCH_PORT:-$(free_port 18480)}
  data="$work/$db-data"
  mkdir -p "$data"
  db_args=()
  db_conn="$data/capstan.db"
  if [ "$db" = postgres ]; then
    pg_port=${BENCH_PG_PORT:-$(free_port 55450)}
    pg_dir="$work/pg"
    db_conn=$("$ROOT/scripts/pg.sh" start "$pg_dir" "$pg_port")
    db_args=(--database "$db_conn")
    echo "== postgres: throwaway cluster on 127.0.0.1:$pg_port"
  fi

  account=$(new_hex 16)
  app=$(cat /proc/sys/kernel/random/uuid)
  token="cap_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  echo "== $db: server on http://127.0.0.1:$port (data: $data)"
  # Janus (the media plane) is not started: the benchmark measures the HTTP API, and a second SFU on the machine
  # would only add noise (and ports) to it. The per-account rate limits are off: one account drives the whole load.
  CAPSTAN_BOOTSTRAP_ACCOUNT_ID=$account CAPSTAN_BOOTSTRAP_APP_ID=$app CAPSTAN_BOOTSTRAP_TOKEN=$token Janus__Enabled=false Recorder__Enabled=false RateLimits__Enabled=false \
    dotnet "$SERVER_DLL" serve --port "$port" --data-dir "$data" "${db_args[@]}" >"$work/$db-server.log" 2>&1 &
  server_pid=$!
  deadline=$((SECONDS + 90))
  until healthy "$port"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server exited; its log:" >&2; tail -n 40 "$work/$db-server.log" >&2; exit 1
    fi
    if ((SECONDS > deadline)); then
      echo "the server did not answer /healthz within 90 s; its log:" >&2; tail -n 40 "$work/$db-server.log" >&2; exit 1
    fi
    sleep 0.2
  done

  cpu_args=(--server-pid "$server_pid")
  [ "$db" = postgres ] && cpu_args+=(--pg-pid-file "$pg_dir/data/postmaster.pid")
  rc=0
  dotnet "$CLIENT_DLL" run --label "$db" --base-url "http://127.0.0.1:$port" --account "$account" --app "$app" --token "$token" \
    --db-kind "$db" --db "$db_conn" --recordings "$RECORDINGS" --meetings "$MEETINGS" --concurrency "$CONCURRENCY" \
    --duration "$DURATION" --warmup "$WARMUP" --list-pages "$LIST_PAGES" --scenarios "$SCENARIOS" --load "$LOAD" "${cpu_args[@]}" --out "$work/$db.json" || rc=$?
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "== $db: the load client exited with $rc; the server log's last lines:" >&2
    tail -n 20 "$work/$db-server.log" >&2
  fi
  [ -f "$work/$db.json" ] && results+=("$work/$db.json")
  stop_server
  stop_pg
done

if ((${#results[@]})); then
  echo
  echo "================ summary ================"
  dotnet "$CLIENT_DLL" summary "${results[@]}" | tee "$work/summary.txt"
fi
exit $status
