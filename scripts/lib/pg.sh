# Throwaway PostgreSQL for tests and benchmarks. Source this file, then:
#   pg_start [fast|durable]   # starts a private server; exports PV2_PG_URL
#   pg_stop                   # stops it and deletes its data directory
#   pg_halt DIR / pg_resume DIR   # stop and start again the server of data directory DIR
#                                 # (outage drills; the options it started with are kept)
# The server runs as the `postgres` user when we are root (initdb refuses root), on a
# private data directory and a free port on 127.0.0.1. Installs Debian's postgresql package
# when no server binaries are found.

pg_bin_dir() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

pg_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "PostgreSQL server binaries not found and not root: install the postgresql package" >&2
        return 1
    fi
    echo "installing PostgreSQL (Debian package postgresql)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
}

pg_free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    else
        local p
        for p in $(seq 25432 25532); do
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
        done
        return 1
    fi
}

# Runs a command as the server's owner.
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

pg_start() {
    local mode="${1:-fast}"
    local bin
    bin="$(pg_bin_dir)" || { pg_install && bin="$(pg_bin_dir)"; } || return 1
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    fi
    PG_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pv2-pg.XXXXXX")"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DATA_DIR"
    local port
    port="$(pg_free_port)"
    pg_as_owner "$bin/initdb" -D "$PG_DATA_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PG_DATA_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DATA_DIR/initdb.log" >&2; return 1; }
    local opts="-p $port -k $PG_DATA_DIR -c listen_addresses=127.0.0.1 -c max_connections=300"
    if [ "$mode" = fast ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    else
        opts="$opts -c max_wal_size=8GB -c checkpoint_timeout=30min"
    fi
    printf '%s\n' "$opts" >"$PG_DATA_DIR/pg_opts"
    printf '%s\n' "$bin" >"$PG_DATA_DIR/pg_bin"
    pg_as_owner "$bin/pg_ctl" -D "$PG_DATA_DIR/data" -o "$opts" -l "$PG_DATA_DIR/server.log" -w -t 60 start >/dev/null \
        || { cat "$PG_DATA_DIR/server.log" >&2; return 1; }
    PG_BIN_DIR="$bin"
    export PV2_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "throwaway PostgreSQL ($("$bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port, data in $PG_DATA_DIR" >&2
}

pg_stop() {
    if [ -n "${PG_DATA_DIR:-}" ] && [ -d "$PG_DATA_DIR/data" ]; then
        pg_as_owner "$PG_BIN_DIR/pg_ctl" -D "$PG_DATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ -n "${PG_DATA_DIR:-}" ] && rm -rf "$PG_DATA_DIR"
    PG_DATA_DIR=""
}

# Stops the server of data directory $1 (fast shutdown: sessions are cut), keeping its data.
pg_halt() {
    local dir="$1"
    pg_as_owner "$(cat "$dir/pg_bin")/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

# Starts the server of data directory $1 again with the options it first started with.
pg_resume() {
    local dir="$1"
    pg_as_owner "$(cat "$dir/pg_bin")/pg_ctl" -D "$dir/data" -o "$(cat "$dir/pg_opts")" \
        -l "$dir/server.log" -w -t 60 start >/dev/null
}
