#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, trust
# authentication for the local user `comet`, listening on 127.0.0.1 only, on a free port.
#
#   scripts/postgres-test-server.sh COMMAND [ARGS...]
#       starts the cluster, runs COMMAND with COMET_TEST_POSTGRES_URL set to it, stops the
#       cluster (and deletes its files) and exits with COMMAND's status.
#   scripts/postgres-test-server.sh
#       starts the cluster, prints the export line for COMET_TEST_POSTGRES_URL and keeps it
#       running until interrupted (Ctrl-C).
#
# Needs PostgreSQL's server binaries (Debian: postgresql, postgresql-contrib for unaccent);
# PG_BIN overrides where they are looked for. PostgreSQL refuses to run as root, so as root the
# cluster runs as the `postgres` user (created by Debian's package).
set -euo pipefail

find_pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    local candidate
    for candidate in /usr/lib/postgresql/*/bin; do
        [ -x "$candidate/initdb" ] && echo "$candidate"
    done | sort -V | tail -n 1
}

PG_BIN="$(find_pg_bin)"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "postgres-test-server: PostgreSQL server binaries not found (apt-get install postgresql postgresql-contrib, or set PG_BIN)" >&2
    exit 1
fi

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "postgres-test-server: running as root needs a 'postgres' user to run the cluster as" >&2
        exit 1
    fi
    as_owner=(runuser -u postgres --)
fi

# A port nothing answers on; the start below retries if another process takes it first.
free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# As root the cluster's owner must reach its directory: /tmp rather than a private TMPDIR.
if [ ${#as_owner[@]} -gt 0 ]; then
    CLUSTER_DIR="$(mktemp -d -p /tmp comet-pg.XXXXXX)"
else
    CLUSTER_DIR="$(mktemp -d -t comet-pg.XXXXXX)"
fi
chmod 755 "$CLUSTER_DIR"
DATA_DIR="$CLUSTER_DIR/data"
LOG_FILE="$CLUSTER_DIR/server.log"
mkdir -p "$DATA_DIR"
if [ ${#as_owner[@]} -gt 0 ]; then
    chown -R postgres: "$CLUSTER_DIR"
fi

stop_cluster() {
    local status=$?
    if [ -f "$DATA_DIR/postmaster.pid" ]; then
        "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$CLUSTER_DIR"
    return $status
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

"${as_owner[@]}" "$PG_BIN/initdb" -D "$DATA_DIR" -U comet --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 || {
    cat "$CLUSTER_DIR/initdb.log" >&2
    exit 1
}

# A port can be taken between choosing and binding it: try a few.
started=false
for _attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    # fsync off: a crash only loses a throwaway cluster, and the tests run much faster.
    if "${as_owner[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $CLUSTER_DIR -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null; then
        started=true
        break
    fi
done
if [ "$started" != true ]; then
    echo "postgres-test-server: the cluster did not start; its log:" >&2
    cat "$LOG_FILE" >&2 || true
    exit 1
fi

# pg_ctl -w waits for the postmaster; also wait until it accepts connections over TCP.
deadline=$((SECONDS + 60))
until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U comet -d postgres; do
    if [ $SECONDS -ge $deadline ]; then
        echo "postgres-test-server: not ready within 60 s; its log:" >&2
        cat "$LOG_FILE" >&2 || true
        exit 1
    fi
    sleep 0.2
done

export COMET_TEST_POSTGRES_URL="postgres://comet@127.0.0.1:$PORT/postgres"
echo "postgres-test-server: PostgreSQL ($("$PG_BIN/postgres" --version)) at $COMET_TEST_POSTGRES_URL" >&2

if [ $# -gt 0 ]; then
    set +e
    "$@"
    status=$?
    set -e
    exit $status
fi

echo "export COMET_TEST_POSTGRES_URL=$COMET_TEST_POSTGRES_URL"
echo "postgres-test-server: running until interrupted (Ctrl-C)" >&2
while true; do
    sleep 3600 &
    wait $! || true
done
