# Sourced by scripts/test and scripts/sanitize: starts the servers the tests
# use, each on a free loopback port, exports where they are, and stops them
# when the sourcing script exits:
#   redis-server      TUS_TEST_REDIS_URL
#   tuspyserver       TUS_TEST_TUSPYSERVER_URL, TUS_TEST_TUSPYSERVER_DIR
#   the venv's Python TUS_TEST_PYTHON
# Needs what `scripts/setup --test` installs. Prefixes its messages with
# $test_servers_name (the sourcing script's name).

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

redis_pid=""
tuspyserver_pid=""
scratch=$(mktemp -d)
cleanup() {
    for pid in $redis_pid $tuspyserver_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$scratch"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis_pid=$!
for _ in $(seq 1 100); do
    if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { echo "$test_servers_name: redis-server did not start on port $redis_port" >&2; exit 1; }

export TUS_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"

# tuspyserver, a tus server no one here wrote, on another free port.
tuspyserver_port=$(free_port)
export TUS_TEST_TUSPYSERVER_DIR="$scratch/tuspyserver"
mkdir -p "$TUS_TEST_TUSPYSERVER_DIR"
TUS_FILES_DIR="$TUS_TEST_TUSPYSERVER_DIR" .venv/bin/python -m uvicorn --app-dir Tests/Servers tuspyserver_app:app \
    --host 127.0.0.1 --port "$tuspyserver_port" --log-level warning &
tuspyserver_pid=$!
for _ in $(seq 1 150); do
    if curl -s -o /dev/null -X OPTIONS "http://127.0.0.1:$tuspyserver_port/files/"; then break; fi
    sleep 0.1
done
curl -s -o /dev/null -X OPTIONS "http://127.0.0.1:$tuspyserver_port/files/" \
    || { echo "$test_servers_name: tuspyserver did not start on port $tuspyserver_port" >&2; exit 1; }
export TUS_TEST_TUSPYSERVER_URL="http://127.0.0.1:$tuspyserver_port/files/"
export TUS_TEST_PYTHON="$PWD/.venv/bin/python"
