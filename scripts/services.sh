# Throwaway database servers (PostgreSQL, MariaDB) for the test suites; sourced by scripts/test.
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

# MariaDB: exports RONGHE_TEST_MYSQL_URL (database ronghe_test, user root without a password).
start_mariadb() {
  local port dir deadline
  if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
    echo "==> installing MariaDB" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  fi
  port=${RONGHE_TEST_MYSQL_PORT:-53306}
  dir=$(mktemp -d /tmp/ronghe-test-mariadb.XXXXXX)
  echo "==> starting MariaDB on 127.0.0.1:$port ($dir)" >&2
  mariadb-install-db --no-defaults --user=root --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install.log" 2>&1
  # No binary log and relaxed flushing: a test server that is thrown away.
  mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
    --character-set-server=utf8mb4 --pid-file="$dir/pid" --log-error="$dir/log" >"$dir/out" 2>&1 &
  SERVICES_STOP+=("kill $!; wait $! 2>/dev/null; rm -rf '$dir'")
  deadline=$((SECONDS + 60))
  until mariadb --no-defaults --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "MariaDB did not start within 60 s; its log:" >&2
      cat "$dir/log" >&2
      return 1
    fi
    sleep 0.2
  done
  mariadb --no-defaults --socket="$dir/sock" -uroot -e 'CREATE DATABASE ronghe_test'
  export RONGHE_TEST_MYSQL_URL="mysql://root@127.0.0.1:$port/ronghe_test"
}

# Headless Chromium and its WebDriver for the console's browser tests (tests/console.rs), with
# CJK fonts so that the screenshots they keep show the Chinese text: exports RONGHE_CHROMEDRIVER.
ensure_chromium() {
  if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null \
    || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then
    echo "==> installing Chromium, chromedriver and CJK fonts" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      chromium chromium-driver fonts-noto-cjk >/dev/null
  fi
  RONGHE_CHROMEDRIVER=$(command -v chromedriver)
  export RONGHE_CHROMEDRIVER
}
