#!/usr/bin/env bash
# Install (from Debian's packages) and start the services the test suite needs:
# PostgreSQL on 127.0.0.1:54329 and Redis on 127.0.0.1:63790. Idempotent.
# Prints the environment to export; `eval "$(bash .ci/services.sh)"` sets it.
set -euo pipefail

PG_PORT=${PG_PORT:-54329}
REDIS_PORT=${REDIS_PORT:-63790}
PG_DIR=${PG_DIR:-/tmp/authmanager-pg}

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${#need_apt[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_apt[@]}" >&2
fi

PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")

if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    mkdir -p "$PG_DIR"
    chown postgres:postgres "$PG_DIR"
    su postgres -c "$PG_BIN/initdb -D $PG_DIR -U postgres --auth=trust -E UTF8" >&2
  fi
  su postgres -c "$PG_BIN/pg_ctl -D $PG_DIR -l $PG_DIR/server.log -w -o '-h 127.0.0.1 -p $PG_PORT -k /tmp -c fsync=off -c max_connections=300' start" >&2
fi
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='authmanager'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE ROLE authmanager LOGIN SUPERUSER PASSWORD 'authmanager'" >&2
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='authmanager'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE authmanager OWNER authmanager" >&2

if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --logfile /tmp/authmanager-redis.log >&2
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

echo "export AUTHMANAGER_TEST_POSTGRES_URL=postgresql+asyncpg://authmanager:authmanager@127.0.0.1:$PG_PORT/authmanager"
echo "export AUTHMANAGER_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
