# shellcheck shell=bash
# A throwaway PostgreSQL server for the inventory's tests, sourced by .ci/run.
#
# start_postgres installs Debian's `postgresql` package when its binaries are missing, creates a
# cluster in a temporary folder, owned by an unprivileged user (initdb refuses root; as root we use
# `nobody`), starts it on a free loopback port (trust authentication, reachable from 127.0.0.1
# only), exports AGENTPOLICY_TEST_POSTGRES_URL for the tests, and registers stop_postgres, which
# stops the server and removes the folder, on exit. A URL given from outside is used as it is.

postgres_bin() {
  # the newest installed major version's binaries (Debian keeps them out of PATH)
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_postgres_user() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u nobody -- "$@"
  else
    su -s /bin/sh nobody -c "$(printf '%q ' "$@")"
  fi
}

start_postgres() {
  if [ -n "${AGENTPOLICY_TEST_POSTGRES_URL:-}" ]; then
    echo "PostgreSQL for the inventory tests: given by AGENTPOLICY_TEST_POSTGRES_URL"
    return 0
  fi
  local bin
  bin="$(postgres_bin)"
  if [ -z "$bin" ]; then
    echo "installing postgresql (for the inventory's PostgreSQL tests)"
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    bin="$(postgres_bin)"
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "error: PostgreSQL could not be installed; the inventory's PostgreSQL tests cannot run" >&2
    return 1
  fi
  POSTGRES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/agentpolicy-postgres.XXXXXX")"
  trap stop_postgres EXIT
  if [ "$(id -u)" -eq 0 ]; then
    chown nobody "$POSTGRES_DIR"
  fi
  chmod 700 "$POSTGRES_DIR"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  (
    cd "$POSTGRES_DIR"  # the unprivileged user may not enter the current folder
    as_postgres_user "$bin/initdb" -D "$POSTGRES_DIR/data" -U inventory -A trust -E UTF8 --no-sync \
      --no-instructions >"$POSTGRES_DIR/initdb.log" 2>&1 \
      && as_postgres_user "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$POSTGRES_DIR -c fsync=off" \
        start >/dev/null
  ) || {
    echo "error: the PostgreSQL test server did not start:" >&2
    cat "$POSTGRES_DIR/initdb.log" "$POSTGRES_DIR/server.log" >&2 2>/dev/null || true
    return 1
  }
  export AGENTPOLICY_TEST_POSTGRES_URL="postgresql://inventory@127.0.0.1:$port/postgres"
  echo "PostgreSQL for the inventory tests: $AGENTPOLICY_TEST_POSTGRES_URL (stopped on exit)"
}

stop_postgres() {
  if [ -n "${POSTGRES_DIR:-}" ] && [ -d "$POSTGRES_DIR/data" ]; then
    (cd "$POSTGRES_DIR" && as_postgres_user "$(postgres_bin)/pg_ctl" -D "$POSTGRES_DIR/data" -m immediate \
      -w stop >/dev/null 2>&1) || true
  fi
  if [ -n "${POSTGRES_DIR:-}" ]; then
    rm -rf "$POSTGRES_DIR"
  fi
}
