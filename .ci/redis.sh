# Sourced by .ci/run: makes sure a Redis answers for the queue tests, and stops one we started.
STARTED_REDIS_PORT=""

redis_answers() { redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) || echo "warning: could not install redis-server"
  fi
  if command -v redis-cli >/dev/null 2>&1 && redis_answers 6379; then
    export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
    return
  fi
  if command -v redis-server >/dev/null 2>&1; then
    local port
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir /tmp >/dev/null
    for _ in $(seq 50); do redis_answers "$port" && break; sleep 0.1; done
    STARTED_REDIS_PORT=$port
    export REDIS_URL="redis://127.0.0.1:$port"
  fi
}

stop_redis() {
  if [ -n "$STARTED_REDIS_PORT" ]; then redis-cli -p "$STARTED_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
}
