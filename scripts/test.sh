#!/usr/bin/env bash
# The one test command (README, and CI through .ci/run): sets up everything the suite needs on a
# fresh Debian machine, runs the linters, then pytest against real servers.
#
#   scripts/test.sh                      everything: lint + the whole pytest suite
#   scripts/test.sh tests/unit -x        extra arguments go to pytest
#
# What it does, in order (each step fails the run):
#   1. installs the Debian packages it needs, only when some are missing (warm runs skip apt);
#   2. creates/refreshes .venv and installs the project with its dev extras;
#   3. ruff format --check, ruff check, mypy (strict), lint-imports;
#   4. builds or reuses the test control plane (scripts/build-control-plane.sh, cached), fetches
#      the Argo CD and Flux CRDs (scripts/fetch-gitops-crds.sh, cached) and builds or reuses the
#      end-to-end tier: controller-manager, scheduler, kwok, Flux, Argo CD
#      (scripts/build-e2e-cluster.sh, cached);
#   5. starts a throw-away MariaDB and PostgreSQL on free ports on 127.0.0.1, with data in a temp
#      dir, and creates the users the tests log in as;
#   6. runs pytest with the servers' URLs in LYNQ_TEST_* variables.
# A trap stops both servers and removes the temp dir however the script ends.
#
# Knobs for local iterations (CI sets neither):
#   LYNQ_SKIP_LINT=1            skip step 3
#   LYNQ_SKIP_CONTROL_PLANE=1   skip step 4; tests that need the control plane skip (fail in CI)
#   LYNQ_SKIP_E2E=1             skip the end-to-end build of step 4 (tests/e2e then use what
#                               is cached, or skip; in CI they fail)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

# redis-server: Argo CD's cache, for the end-to-end tier (we start our own, never the service).
APT_PACKAGES=(mariadb-server mariadb-client postgresql postgresql-client git python3 python3-venv
              redis-server)
VENV="$REPO_ROOT/.venv"
# Bounded waits: a server that is not up in this many seconds is broken, not slow.
SERVER_START_TIMEOUT=60

RUN_DIR=""          # temp dir holding both servers' data, sockets and logs
MARIADB_PID=""
PYTEST_PID=""      # set while pytest runs in the background, so a signal can stop it first
PG_BIN=""
PG_DATA=""

log() { printf '\n=== test.sh: %s\n' "$*" >&2; }
die() { printf '\ntest.sh: FAILED: %s\n' "$*" >&2; REPORTED=1; exit 1; }
REPORTED=""        # set once a failure has been explained, so cleanup does not repeat it

# Seconds since the script started, for the phase timings printed in the log.
elapsed() { echo "$(( $(date +%s) - START ))s"; }

# Stop what we started, by PID, and delete the throw-away data. Runs on every exit path so a
# failed or interrupted run leaves no server listening and no data behind.
cleanup() {
  local rc=$?
  set +e
  if [ -n "$PYTEST_PID" ]; then
    kill "$PYTEST_PID" 2>/dev/null
    wait "$PYTEST_PID" 2>/dev/null
  fi
  if [ -n "$MARIADB_PID" ] && kill -0 "$MARIADB_PID" 2>/dev/null; then
    kill "$MARIADB_PID"
    for _ in $(seq 1 30); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 1; done
    kill -9 "$MARIADB_PID" 2>/dev/null
  fi
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    # immediate: the data is thrown away, so there is nothing to flush.
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 \
      || kill -9 "$(head -n 1 "$PG_DATA/postmaster.pid")" 2>/dev/null
  fi
  [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
  # Whatever failed without going through die() (set -e, a signal) still gets a clear last line.
  if [ "$rc" -ne 0 ] && [ -z "$REPORTED" ]; then
    printf '\ntest.sh: FAILED: exit code %s (see the output above)\n' "$rc" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap does the cleaning.
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL refuses to run as root; its tools run as the Debian "postgres" user from "/" (it
# cannot read the repository's directory, and would warn about it).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# A TCP port nobody listens on right now. The kernel picks it; the tiny race until the server binds
# it is acceptable on a CI machine that runs one suite at a time.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Fresh random passwords per run: nothing to leak, nothing to collide with a real server.
new_password() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }

# Install missing Debian packages. apt-get update is the slow part, so a machine that already has
# everything does not touch apt at all. No service that apt may start is used: we start our own.
install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
      || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages present ($(elapsed))"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run as root to install them"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "Debian packages installed ($(elapsed))"
}

# The venv is reused; the editable install is redone only when pyproject.toml changed (the stamp
# holds its hash), because pip's resolver costs several seconds even when nothing changes.
setup_venv() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.lynq-installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the project into .venv"
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    echo "$want" >"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
  log "venv ready ($(elapsed))"
}

run_linters() {
  if [ "${LYNQ_SKIP_LINT:-}" = 1 ]; then
    log "LYNQ_SKIP_LINT=1: skipping ruff, mypy and lint-imports"
    return
  fi
  log "ruff format --check"
  ruff format --check . || die "ruff format --check found unformatted files (fix: ruff format .)"
  log "ruff check"
  ruff check . || die "ruff check found problems"
  log "mypy (strict)"
  mypy lynq_bridge renderers || die "mypy found type errors"
  log "lint-imports"
  lint-imports || die "an import-linter contract is broken"
  log "linters passed ($(elapsed))"
}

# The control plane (etcd, kube-apiserver, kubectl) is built from source and cached under
# ~/.cache; the script prints the bin directory on stdout and logs on stderr.
setup_control_plane() {
  if [ "${LYNQ_SKIP_CONTROL_PLANE:-}" = 1 ]; then
    log "LYNQ_SKIP_CONTROL_PLANE=1: not building the test control plane"
    return
  fi
  log "building or reusing the test control plane"
  local bin
  bin=$(scripts/build-control-plane.sh) || die "scripts/build-control-plane.sh failed"
  [ -x "$bin/kube-apiserver" ] || die "no kube-apiserver in '$bin'"
  export LYNQ_TEST_CONTROL_PLANE_BIN="$bin"
  log "control plane in $bin ($(elapsed))"
  # The Argo CD and Flux CRDs the GitOps target tests install (from their Go modules, cached).
  local crds
  crds=$(scripts/fetch-gitops-crds.sh) || die "scripts/fetch-gitops-crds.sh failed"
  export LYNQ_TEST_GITOPS_CRDS="$crds"
  log "GitOps CRDs in $crds ($(elapsed))"
  # The end-to-end tier: controller-manager, scheduler, kwok, Flux and Argo CD (cached; a cold
  # build takes about 25 minutes on 2 cores, a warm machine only checks the files).
  log "building or reusing the end-to-end tier's programs"
  local e2e
  if [ "${LYNQ_SKIP_E2E:-}" = 1 ]; then
    log "LYNQ_SKIP_E2E=1: not building the end-to-end tier"
    return
  fi
  e2e=$(scripts/build-e2e-cluster.sh) || die "scripts/build-e2e-cluster.sh failed"
  export LYNQ_TEST_E2E_BIN="$e2e"
  log "end-to-end programs in $e2e ($(elapsed))"
}

# Poll a readiness command once a second, failing with the server's log when it never answers
# or when its process (if a PID is given) has already died, instead of waiting out the timeout.
wait_until() {
  local what=$1 logfile=$2 pid=$3; shift 3
  local _
  for _ in $(seq 1 "$SERVER_START_TIMEOUT"); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 50 "$logfile" >&2 || true
      die "$what exited during start-up (log above)"
    fi
    sleep 1
  done
  tail -n 50 "$logfile" >&2 || true
  die "$what did not become ready within ${SERVER_START_TIMEOUT}s (log above)"
}

# MariaDB in a throw-away datadir, run as root (allowed with --user=root). --no-defaults keeps the
# machine's /etc/mysql out of it; the charset settings restore what Debian's config would give.
# The binlog in row format is on, so the change feed can read it (lynq has the replication rights
# through ALL; lynq_ro has not, and tests the fingerprint fallback).
start_mariadb() {
  local dir="$RUN_DIR/mariadb" port
  mkdir -p "$dir/data"
  port=$(free_port)
  log "starting MariaDB on 127.0.0.1:$port"
  mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/mysql.sock" \
    --pid-file="$dir/mysqld.pid" --port="$port" --bind-address=127.0.0.1 \
    --log-error="$dir/error.log" \
    --log-bin="$dir/data/binlog" --binlog-format=ROW --server-id=1 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 >>"$dir/error.log" 2>&1 &
  MARIADB_PID=$!
  wait_until MariaDB "$dir/error.log" "$MARIADB_PID" \
    mariadb-admin --no-defaults --socket="$dir/mysql.sock" -uroot ping

  MYSQL_PASSWORD=$(new_password)
  MYSQL_RO_PASSWORD=$(new_password)
  # Users for both 127.0.0.1 and '%': the host part must match however the client connects.
  # ALL on *.* because each test creates and drops its own database.
  mariadb --no-defaults --socket="$dir/mysql.sock" -uroot <<SQL
CREATE USER 'lynq'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER 'lynq'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'lynq'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'lynq'@'%';
CREATE USER 'lynq_ro'@'127.0.0.1' IDENTIFIED BY '$MYSQL_RO_PASSWORD';
CREATE USER 'lynq_ro'@'%' IDENTIFIED BY '$MYSQL_RO_PASSWORD';
GRANT SELECT ON *.* TO 'lynq_ro'@'127.0.0.1';
GRANT SELECT ON *.* TO 'lynq_ro'@'%';
SQL
  export LYNQ_TEST_MYSQL_URL="mysql+pymysql://lynq:$MYSQL_PASSWORD@127.0.0.1:$port/"
  export LYNQ_TEST_MYSQL_RO_USER=lynq_ro LYNQ_TEST_MYSQL_RO_PASSWORD="$MYSQL_RO_PASSWORD"
  log "MariaDB ready ($(elapsed))"
}

# PostgreSQL from Debian's versioned bin dir (the pg_ctlcluster wrappers assume /etc and systemd).
# Local socket connections are trusted (only the postgres OS user reaches the private socket dir);
# TCP needs a password, which is how the tests and the bridge connect.
start_postgres() {
  local dir="$RUN_DIR/postgres" port password ro_password
  PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  PG_DATA="$dir/data"
  mkdir -p "$dir/socket"
  chown -R postgres:postgres "$dir"
  port=$(free_port)
  log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$port"
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # Durability settings off: the data is thrown away, and fsync dominates per-test CREATE DATABASE.
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/server.log" -w -t "$SERVER_START_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
    || { tail -n 50 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  wait_until PostgreSQL "$dir/server.log" "" \
    as_postgres "$PG_BIN/pg_isready" -h "$dir/socket" -p "$port"

  password=$(new_password)
  ro_password=$(new_password)
  # CREATEDB because each test creates its own database. pg_read_all_data (PostgreSQL 14+) lets
  # the read-only role SELECT every table in every database, including ones created later.
  # pg_signal_backend: a test's DROP DATABASE ... WITH (FORCE) terminates the backends still
  # attached to it, and the read-only role's (a disconnect the server has not reaped yet) are
  # another role's: without it the drop fails under load.
  as_postgres "$PG_BIN/psql" -h "$dir/socket" -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -q <<SQL
CREATE ROLE lynq LOGIN CREATEDB PASSWORD '$password';
CREATE ROLE lynq_ro LOGIN PASSWORD '$ro_password';
GRANT pg_read_all_data TO lynq_ro;
GRANT pg_signal_backend TO lynq;
SQL
  export LYNQ_TEST_POSTGRES_URL="postgresql+psycopg://lynq:$password@127.0.0.1:$port/postgres"
  export LYNQ_TEST_POSTGRES_RO_USER=lynq_ro LYNQ_TEST_POSTGRES_RO_PASSWORD="$ro_password"
  log "PostgreSQL ready ($(elapsed))"
}

# pytest's exit code 5 means "no tests collected": a wrong path or a broken collection would
# otherwise pass silently, so it counts as a failure here.
# Without a terminal (CI), pytest runs in the background and we wait for it: bash runs a trap only
# between commands, so a SIGTERM to this script alone would otherwise wait for the whole suite.
# With a terminal it stays in the foreground, where Ctrl-C reaches it anyway and --pdb works.
run_pytest() {
  log "pytest $*"
  local rc=0
  if [ -t 0 ]; then
    pytest "$@" || rc=$?
  else
    pytest "$@" </dev/null &
    PYTEST_PID=$!
    wait "$PYTEST_PID" || rc=$?
    PYTEST_PID=""
  fi
  if [ "$rc" -eq 5 ]; then
    die "pytest collected no tests (exit code 5)"
  elif [ "$rc" -ne 0 ]; then
    die "pytest exited with code $rc"
  fi
}

START=$(date +%s)
install_packages
setup_venv
run_linters
setup_control_plane
RUN_DIR=$(mktemp -d -t lynq-test.XXXXXX)
chmod 755 "$RUN_DIR"   # the postgres user must traverse it to reach its own data dir
start_mariadb
start_postgres
run_pytest "$@"
printf '\ntest.sh: PASSED in %s\n' "$(elapsed)"
