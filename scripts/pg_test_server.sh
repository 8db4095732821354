#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS server for the tests (installs nothing).
#
#   scripts/pg_test_server.sh start [DIR]   start (or find running) and print its URL
#   scripts/pg_test_server.sh url [DIR]     print the URL of the running server
#   scripts/pg_test_server.sh stop [DIR]    stop it and remove DIR
#
# DIR (default: build/pg, or $FORESTSINK_PG_DIR) holds the cluster (initdb),
# its socket, log and URL; as root it is owned by the postgres user. The
# server listens on 127.0.0.1 only, on a free port, with a random password,
# and has one database, forestsink_test, with the postgis extension.
# `start` is idempotent: a server already running in DIR is reused. `stop`
# only touches a folder this script made (it holds .forestsink-pg-test).
#
# Exit status 3: the PostgreSQL or PostGIS binaries are missing (Debian:
# apt-get install postgresql postgresql-postgis; `make test` does it).
# FORESTSINK_PG_LIB (default /usr/lib/postgresql) is where VERSION/bin is.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMD=${1:-start}
DIR=${2:-${FORESTSINK_PG_DIR:-$ROOT/build/pg}}
MARK=".forestsink-pg-test"
DB=forestsink_test

die() { echo "pg_test_server: $*" >&2; exit "${2:-1}"; }

find_bin() {
    local bin
    local lib=${FORESTSINK_PG_LIB:-/usr/lib/postgresql}
    for bin in $(ls -d "$lib"/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/psql" ]; then
            echo "$bin"
            return 0
        fi
    done
    return 1
}

as_owner() {  # run a command as the cluster's owner
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$DIR/$MARK" ] && [ -f "$DIR/url" ] && [ -d "$DIR/data" ] \
        && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    if running; then
        cat "$DIR/url"
        return 0
    fi
    if [ -e "$DIR" ] && [ ! -f "$DIR/$MARK" ] && [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR exists and was not made by this script; not touching it."
    fi
    # a stale folder of ours (a killed session): start afresh
    if [ -f "$DIR/$MARK" ]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
    fi
    mkdir -p "$DIR"
    touch "$DIR/$MARK"
    local password
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$password" > "$DIR/pwfile"
    chmod 600 "$DIR/pwfile"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$DIR"
        chmod 700 "$DIR"
    fi
    as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pwfile" \
        --auth=scram-sha-256 -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 \
        || die "initdb failed; see $DIR/initdb.log"
    cat >>"$DIR/data/postgresql.conf" <<EOF
# forestsink test server: loopback only, throwaway, fast
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 64MB
EOF
    local port="" try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            continue  # something listens there
        fi
        if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" \
            -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    [ -n "$port" ] || die "could not start PostgreSQL; see $DIR/server.log"
    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres)
    as_owner env PGPASSWORD="$password" "${psql[@]}" -d postgres \
        -c "CREATE DATABASE $DB" >/dev/null
    if ! as_owner env PGPASSWORD="$password" "${psql[@]}" -d "$DB" \
        -c "CREATE EXTENSION postgis" >"$DIR/postgis.log" 2>&1; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
        die "PostGIS is not installed for $(basename "$(dirname "$BIN")") \
(apt-get install postgresql-postgis): run make test (it installs postgresql and postgis)" 3
    fi
    local url="postgresql://postgres:$password@127.0.0.1:$port/$DB"
    printf '%s\n' "$url" > "$DIR/url"
    echo "$url"
}

stop() {
    if [ ! -e "$DIR" ]; then
        return 0
    fi
    [ -f "$DIR/$MARK" ] || die "$DIR was not made by this script; not touching it."
    if [ -d "$DIR/data" ]; then
        as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

BIN=$(find_bin) || die "PostgreSQL binaries (initdb, pg_ctl, psql) not found \
under ${FORESTSINK_PG_LIB:-/usr/lib/postgresql}/*/bin: run make test (it installs postgresql and postgis)" 3

case "$CMD" in
    start) start ;;
    stop) stop ;;
    url) running && cat "$DIR/url" || die "no server running in $DIR" ;;
    *) die "usage: $0 start|url|stop [DIR]" 2 ;;
esac
