# Throwaway database servers for the test suites; sourced by scripts/test.
# Each start_* function installs the server if missing (Debian packages; needs root), starts it on
# a private port and data directory under /tmp, exports the URL the tests read, and registers
# its stop in stop_services (call it on exit).

SERVICES_STOP=()

stop_services() {
  local cmd
  for cmd in "${SERVICES_STOP[@]}"; do eval "$cmd" >/dev/null 2>&1 || true; done
}

# PostgreSQL: exports RONGHE_TEST_PG_URL.
start_postgres() {
  local bin port dir
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "==> installing PostgreSQL" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  port=${RONGHE_TEST_PG_PORT:-55432}
  dir=$(mktemp -d /tmp/ronghe-test-pg.XXXXXX)
  chown postgres:postgres "$dir"
  echo "==> starting PostgreSQL on 127.0.0.1:$port ($dir)" >&2
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # fsync off: a test cluster that is thrown away; durability is not under test here.
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  SERVICES_STOP+=("runuser -u postgres -- '$bin/pg_ctl' -D '$dir/data' -m fast stop; rm -rf '$dir'")
  export RONGHE_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
