#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite: `start` prints a DATABASE_URL, `stop DIR`
# stops the server and deletes its files. Uses the machine's PostgreSQL binaries and
# installs Debian's postgresql package when there are none and it may.
set -euo pipefail

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_owner() {  # initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  bin=$(find_bin)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "==> installing PostgreSQL (Debian package)" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      bin=$(find_bin)
    fi
    [ -n "$bin" ] || { echo "PostgreSQL binaries not found; set DATABASE_URL." >&2; exit 1; }
  fi
  PGUSER_OS=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    PGUSER_OS=postgres
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  fi
  dir=$(mktemp -d /tmp/sms-test-pg.XXXXXX)
  chown "$PGUSER_OS" "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # Durability off: this database lives for one test run.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  echo "PGDIR=$dir"
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  dir=${2:?usage: stop DIR}
  bin=$(find_bin)
  PGUSER_OS=$(stat -c %U "$dir")
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
