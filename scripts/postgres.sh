# PostgreSQL for the test suite (issue 7): sourced by scripts/test after _env.sh.
#
# As root on Debian (CI): install the postgresql package if it is missing,
# start its cluster, create the role and database renkei/renkei_test, and
# export RENKEI_TEST_DATABASE_URL so that the storage and concurrency tests run
# against PostgreSQL as well as SQLite. Anywhere else the tests that need it
# are skipped with a reason, unless RENKEI_TEST_DATABASE_URL is already set.
start_postgres() {
    if [ -n "${RENKEI_TEST_DATABASE_URL:-}" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "renkei: not root: PostgreSQL tests skipped (set RENKEI_TEST_DATABASE_URL to run them)" >&2
        return 0
    fi
    install_debian_packages postgresql
    local version
    version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    if ! pg_lsclusters -h | grep -q "^$version main"; then
        pg_createcluster "$version" main >/dev/null
    fi
    pg_ctlcluster "$version" main start 2>/dev/null || true
    local tries=0
    until su postgres -c "pg_isready -q"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 50 ]; then
            echo "renkei: PostgreSQL did not start" >&2
            return 1
        fi
        sleep 0.2
    done
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='renkei'\"" | grep -q 1 \
        || su postgres -c "psql -qc \"CREATE ROLE renkei LOGIN SUPERUSER PASSWORD 'renkei'\""
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='renkei_test'\"" | grep -q 1 \
        || su postgres -c "createdb -O renkei renkei_test"
    export RENKEI_TEST_DATABASE_URL="postgresql+psycopg://renkei:renkei@127.0.0.1:5432/renkei_test"
    echo "renkei: PostgreSQL $version for the tests at $RENKEI_TEST_DATABASE_URL" >&2
}
