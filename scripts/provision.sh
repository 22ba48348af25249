#!/usr/bin/env bash
# Local dev/CI services without Docker or mongod: Redis + FerretDB (SQLite backend).
#
# Usage: scripts/provision.sh <command>
#   install  apt-get redis-server + wrk (if missing), build .local/bin/ferretdb
#            from tools/ferretdb (if stale), install uv (if missing) and `uv sync`
#   start    start redis-server and ferretdb on 127.0.0.1 (skips whatever already
#            answers on its port), wait until ready, print the URLs to export
#   stop     stop both via their pidfiles (.local/{redis,ferretdb}-<port>.pid)
#   status   show whether each answers; exit 1 if either is down
#
# Environment (stop/status honour the ports too): REDIS_PORT (6379), MONGO_PORT (27017),
#   START_TIMEOUT (30 s), FERRETDB_LOG_LEVEL (info),
#   GO (go binary; default: go on PATH, else /usr/local/go/bin/go)
# Everything runtime (binaries, data, logs, pidfiles) lives in the git-ignored .local/.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
REDIS_PORT="${REDIS_PORT:-6379}"
MONGO_PORT="${MONGO_PORT:-27017}"
START_TIMEOUT="${START_TIMEOUT:-30}"
FERRETDB_LOG_LEVEL="${FERRETDB_LOG_LEVEL:-info}"

FERRETDB_SRC="$ROOT/tools/ferretdb"
FERRETDB_BIN="$LOCAL/bin/ferretdb"
# Per-port data/pid/log, so instances on different ports never share files.
FERRETDB_DATA="$LOCAL/ferretdb-data/$MONGO_PORT"
FERRETDB_PID="$LOCAL/ferretdb-$MONGO_PORT.pid"
FERRETDB_LOG="$LOCAL/ferretdb-$MONGO_PORT.log"
REDIS_DATA="$LOCAL/redis-data/$REDIS_PORT"
REDIS_PID="$LOCAL/redis-$REDIS_PORT.pid"
REDIS_LOG="$LOCAL/redis-$REDIS_PORT.log"

log() { printf '[provision] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# ---------------------------------------------------------------- install

install_apt_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v wrk >/dev/null || missing+=(wrk)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: redis-server and wrk already installed"
    return
  fi
  log "apt: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    # Debian auto-starts a system-wide redis on 6379 after install; `start` runs our own
    # (appendonly, data under .local/), so stop the one we just caused to run.
    if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
      log "apt: stopping/disabling the system redis-server service started by the install"
      as_root systemctl disable --now redis-server
    elif [[ -x /etc/init.d/redis-server ]] && as_root /etc/init.d/redis-server status >/dev/null 2>&1; then
      log "apt: stopping the system redis-server service started by the install"
      as_root /etc/init.d/redis-server stop
    fi
  fi
}

find_go() {
  if [[ -n "${GO:-}" ]]; then echo "$GO"
  elif command -v go >/dev/null; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else die "Go toolchain not found (set GO=/path/to/go)"
  fi
}

build_ferretdb() {
  local go stamp; go="$(find_go)"
  # Rebuild when the sources or the Go version change (a content hash, so it also works with CI
  # caches where file mtimes are meaningless).
  stamp="$({ cat "$FERRETDB_SRC"/*.go "$FERRETDB_SRC"/go.mod "$FERRETDB_SRC"/go.sum
    "$go" version; } | sha256sum | cut -d' ' -f1)"
  if [[ -x "$FERRETDB_BIN" && "$(cat "$FERRETDB_BIN.stamp" 2>/dev/null)" == "$stamp" ]]; then
    log "ferretdb: $FERRETDB_BIN is up to date"
    return
  fi
  log "ferretdb: building $FERRETDB_BIN with $("$go" version) (first build takes ~1-2 min)"
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  local start=$SECONDS
  # -mod=readonly: only the committed go.sum's checksums; -buildvcs=false: don't stamp our git state.
  (cd "$FERRETDB_SRC" && "$go" build -mod=readonly -buildvcs=false -trimpath \
    -o "$FERRETDB_BIN.tmp" .)
  mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  echo "$stamp" >"$FERRETDB_BIN.stamp"
  log "ferretdb: built in $((SECONDS - start)) s"
}

install_python_env() {
  local uv=()
  if command -v uv >/dev/null; then
    uv=(uv)
  elif [[ -x "$LOCAL/tools/bin/uv" ]]; then
    uv=("$LOCAL/tools/bin/uv")
  else
    log "python: installing uv==0.13.9"
    if python3 -m pip install -q uv==0.13.9; then
      uv=(python3 -m uv)   # works even if pip's script dir is not on PATH
    else
      # PEP 668 "externally managed" system Python: use a private venv instead.
      log "python: pip install refused, installing uv into $LOCAL/tools"
      python3 -m venv "$LOCAL/tools"
      "$LOCAL/tools/bin/pip" install -q uv==0.13.9
      uv=("$LOCAL/tools/bin/uv")
    fi
  fi
  cd "$ROOT"
  # --all-groups: the dev tools and the bench's (Celery, matplotlib); images install neither.
  if [[ -f uv.lock ]]; then
    log "python: uv sync --frozen --all-groups"
    "${uv[@]}" sync --frozen --all-groups
  else
    log "python: uv sync --all-groups (no uv.lock yet)"
    "${uv[@]}" sync --all-groups
  fi
}

cmd_install() {
  install_apt_packages
  build_ferretdb
  install_python_env
  log "install done"
}

# ---------------------------------------------------------------- start/stop

redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ferretdb_up() {
  local py="$ROOT/.venv/bin/python"
  if [[ -x "$py" ]] && "$py" -c 'import pymongo' 2>/dev/null; then
    "$py" - "$MONGO_PORT" <<'EOF' >/dev/null 2>&1
import sys, pymongo
c = pymongo.MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}", serverSelectionTimeoutMS=1000)
c.admin.command("ping")
EOF
  else
    tcp_up "$MONGO_PORT"
  fi
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for NAME CHECK_FN PIDFILE LOGFILE
wait_for() {
  local name=$1 check=$2 pidfile=$3 logfile=$4 i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    if "$check"; then log "$name: ready"; return 0; fi
    if [[ $i -gt 2 ]] && ! pid_alive "$pidfile"; then
      log "$name: process exited; last log lines ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      rm -f "$pidfile"
      die "$name failed to start"
    fi
    sleep 0.5
  done
  log "$name: not answering after ${START_TIMEOUT}s; last log lines ($logfile):"
  tail -n 30 "$logfile" >&2 || true
  die "$name failed to start"
}

start_redis() {
  if redis_up; then
    log "redis: already answering on 127.0.0.1:$REDIS_PORT, not starting another"
    return
  fi
  command -v redis-server >/dev/null || die "redis-server not installed (run: $0 install)"
  mkdir -p "$REDIS_DATA"
  log "redis: starting on 127.0.0.1:$REDIS_PORT (data: $REDIS_DATA)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --dir "$REDIS_DATA" --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
    --appendonly yes
  wait_for redis redis_up "$REDIS_PID" "$REDIS_LOG"
}

start_ferretdb() {
  if tcp_up "$MONGO_PORT"; then
    log "ferretdb: something already answers on 127.0.0.1:$MONGO_PORT, not starting another"
    return
  fi
  [[ -x "$FERRETDB_BIN" ]] || die "$FERRETDB_BIN missing (run: $0 install)"
  mkdir -p "$FERRETDB_DATA"
  log "ferretdb: starting on 127.0.0.1:$MONGO_PORT (data: $FERRETDB_DATA)"
  # setsid + nohup: detach from the terminal / CI step's session so it keeps running.
  local setsid=(); command -v setsid >/dev/null && setsid=(setsid)
  "${setsid[@]}" nohup "$FERRETDB_BIN" \
    -listen-addr "127.0.0.1:$MONGO_PORT" \
    -sqlite-url "file:$FERRETDB_DATA/" \
    -log-level "$FERRETDB_LOG_LEVEL" \
    >>"$FERRETDB_LOG" 2>&1 </dev/null &
  echo $! >"$FERRETDB_PID"
  wait_for ferretdb ferretdb_up "$FERRETDB_PID" "$FERRETDB_LOG"
}

print_urls() {
  cat <<EOF
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export MONGODB_URL=mongodb://127.0.0.1:$MONGO_PORT
EOF
}

cmd_start() {
  mkdir -p "$LOCAL"
  start_redis
  start_ferretdb
  log "services are up; export:"
  print_urls
}

# stop_pidfile NAME PIDFILE EXPECTED_COMM
stop_pidfile() {
  local name=$1 pidfile=$2 comm=$3 pid i
  if ! [[ -f "$pidfile" ]]; then log "$name: no pidfile ($pidfile), not started by this script"; return; fi
  pid="$(cat "$pidfile")"
  if ! kill -0 "$pid" 2>/dev/null; then
    log "$name: not running (stale pidfile removed)"; rm -f "$pidfile"; return
  fi
  # Guard against a recycled PID belonging to something else.
  if [[ "$(cat "/proc/$pid/comm" 2>/dev/null || ps -o comm= -p "$pid")" != "$comm"* ]]; then
    log "$name: pid $pid is not $comm, removing stale pidfile"; rm -f "$pidfile"; return
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid"
  for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then log "$name: still running after 10s, sending SIGKILL"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
}

cmd_stop() {
  stop_pidfile ferretdb "$FERRETDB_PID" ferretdb
  stop_pidfile redis "$REDIS_PID" redis-server
}

cmd_status() {
  local rc=0 pid
  if redis_up; then pid="$(pid_alive "$REDIS_PID" && cat "$REDIS_PID" || echo 'not ours')"
    log "redis:    UP   redis://127.0.0.1:$REDIS_PORT/0 (pid: $pid)"
  else log "redis:    DOWN (127.0.0.1:$REDIS_PORT)"; rc=1; fi
  if ferretdb_up; then pid="$(pid_alive "$FERRETDB_PID" && cat "$FERRETDB_PID" || echo 'not ours')"
    log "ferretdb: UP   mongodb://127.0.0.1:$MONGO_PORT (pid: $pid)"
  else log "ferretdb: DOWN (127.0.0.1:$MONGO_PORT)"; rc=1; fi
  return $rc
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
