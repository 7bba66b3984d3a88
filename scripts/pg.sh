#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks (no systemd; initdb refuses root, so it runs as
# the postgres user). Usage:
#   scripts/pg.sh start DIR [PORT]   prints the connection string of a superuser-capable role "capstan"
#   scripts/pg.sh stop DIR
#   scripts/pg.sh halt DIR           stops the server and keeps its data (an outage, for readiness tests)
#   scripts/pg.sh resume DIR PORT    starts a halted server again on the same data
set -euo pipefail
cmd=${1:?start|stop}; root=${2:?data folder}; port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

case "$cmd" in
  start)
    if [ -f "$root/data/postmaster.pid" ]; then "$0" stop "$root" >/dev/null 2>&1 || true; fi
    rm -rf "$root"; mkdir -p "$root/sock"
    printf 'capstan\n' > "$root/pw"
    chown -R postgres:postgres "$root"
    runuser -u postgres -- "$bin/initdb" -D "$root/data" -U postgres --pwfile="$root/pw" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$root/initdb.log"
    runuser -u postgres -- "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $root/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
    runuser -u postgres -- "$bin/psql" -h "$root/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qc \
      "CREATE ROLE capstan LOGIN PASSWORD 'capstan' CREATEDB;" -c "CREATE DATABASE capstan OWNER capstan;"
    echo "Host=127.0.0.1;Port=$port;Database=capstan;Username=capstan;Password=capstan"
    ;;
  stop)
    if [ -f "$root/data/postmaster.pid" ]; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$root/data" -m fast -w -t 30 stop >/dev/null || true
    fi
    rm -rf "$root"
    ;;
  halt)
    runuser -u postgres -- "$bin/pg_ctl" -D "$root/data" -m fast -w -t 30 stop >/dev/null
    ;;
  resume)
    runuser -u postgres -- "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $root/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
    ;;
  *) echo "usage: $0 start|stop|halt|resume DIR [PORT]" >&2; exit 2 ;;
esac
