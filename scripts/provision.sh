#!/usr/bin/env bash
# Local dev/CI services without Docker or mongod: Redis + FerretDB (SQLite backend).
#
# Usage: scripts/provision.sh <command>
#   install  apt-get redis-server, wrk, chromium and a font (the console's browser tests)
#            and prometheus (for promtool) if missing; build .local/bin/ferretdb and
#            .local/bin/helm from tools/ferretdb and tools/helm (if stale), copy KEDA's CRD
#            schemas into .local/share/keda (if missing), install uv (if missing), `uv sync`
#   start [redis|ferretdb ...]
#            start redis-server and ferretdb (or the ones named) on 127.0.0.1 (skips
#            whatever already answers on its port), wait until ready, print the URLs
#   stop [redis|ferretdb ...]
#            stop both (or the ones named) via their pidfiles (.local/<name>-<port>.pid)
#   status   show whether each answers; exit 1 if either is down
#   up NAME  exit 0 if NAME (redis or ferretdb) answers on its port, 1 if not
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
HELM_SRC="$ROOT/tools/helm"
# KEDA's CRDs (their openAPIV3Schema) validate the chart's ScaledObjects offline; they come with
# KEDA's Go module, whose checksum is pinned here (the go.sum line of that version).
KEDA_MODULE=github.com/kedacore/keda/v2
KEDA_VERSION=v2.20.2
KEDA_SUM=h1:SR60v8uIcelbveS8n/1jcl8tLdBBIbHMxmdOHw8tKqA=
KEDA_SHARE="$LOCAL/share/keda"
# What tests/deploy reads from it: the CRDs, the redis scalers (their struct tags name the trigger
# metadata and auth parameters they read) and the scaler registry (the trigger types).
KEDA_FILES=(
  config/crd/bases/keda.sh_scaledobjects.yaml
  config/crd/bases/keda.sh_triggerauthentications.yaml
  pkg/scalers/redis_streams_scaler.go
  pkg/scalers/redis_scaler.go
  pkg/scaling/scalers_builder.go
)
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
  # Playwright drives Debian's chromium (its own browser download cannot work offline).
  command -v chromium >/dev/null || missing+=(chromium)
  # A font for the screenshots of make console-shot (chromium only recommends one).
  dpkg -s fonts-dejavu-core >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
  # promtool checks and unit-tests the alert rules; Debian ships it in the prometheus package.
  command -v promtool >/dev/null || missing+=(prometheus)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: redis-server, wrk, chromium, its font and promtool already installed"
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
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    # Only promtool is wanted: the Prometheus server the package starts is not ours.
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
      log "apt: stopping/disabling the system prometheus service started by the install"
      as_root systemctl disable --now prometheus
    elif [[ -x /etc/init.d/prometheus ]] && as_root /etc/init.d/prometheus status >/dev/null 2>&1; then
      log "apt: stopping the system prometheus service started by the install"
      as_root /etc/init.d/prometheus stop
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

# build_go NAME SRC PACKAGE [go build flags...]: build PACKAGE of the Go module in SRC into
# .local/bin/NAME. Rebuilt when the module's sources, the flags or the Go version change (a
# content hash, so it also works with CI caches where file mtimes are meaningless).
build_go() {
  local name=$1 src=$2 package=$3; shift 3
  local go bin="$LOCAL/bin/$name" stamp; go="$(find_go)"
  stamp="$({ shopt -s nullglob; cat "$src"/*.go "$src"/go.mod "$src"/go.sum
    "$go" version; if [[ $# -gt 0 ]]; then printf '%s\n' "$package" "$@"; fi; } |
    sha256sum | cut -d' ' -f1)"
  if [[ -x "$bin" && "$(cat "$bin.stamp" 2>/dev/null)" == "$stamp" ]]; then
    log "$name: $bin is up to date"
    return
  fi
  log "$name: building $bin with $("$go" version) (a first build takes minutes)"
  mkdir -p "$(dirname "$bin")"
  local start=$SECONDS
  # -mod=readonly: only the committed go.sum's checksums; -buildvcs=false: don't stamp our git state.
  (cd "$src" && "$go" build -mod=readonly -buildvcs=false -trimpath "$@" -o "$bin.tmp" "$package")
  mv -f "$bin.tmp" "$bin"
  echo "$stamp" >"$bin.stamp"
  log "$name: built in $((SECONDS - start)) s"
}

build_ferretdb() { build_go ferretdb "$FERRETDB_SRC" .; }

# Helm, from the module tools/helm/go.mod pins (its `tool` line), built as Helm's own Makefile
# does: static, with the version it reports.
build_helm() {
  local version
  version="$(awk '$1 == "helm.sh/helm/v4" { print $2 }' "$HELM_SRC/go.mod")"
  [[ -n "$version" ]] || die "no helm.sh/helm/v4 requirement in $HELM_SRC/go.mod"
  CGO_ENABLED=0 build_go helm "$HELM_SRC" helm.sh/helm/v4/cmd/helm \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version"
}

# KEDA_FILES of KEDA's module into .local/share/keda, for tests/deploy.
fetch_keda_schemas() {
  local stamp="$KEDA_VERSION $KEDA_SUM ${KEDA_FILES[*]}"
  if [[ "$(cat "$KEDA_SHARE/VERSION" 2>/dev/null)" == "$stamp" ]]; then
    log "keda: $KEDA_SHARE holds $KEDA_VERSION"
    return
  fi
  local go json dir sum file; go="$(find_go)"
  log "keda: downloading $KEDA_MODULE@$KEDA_VERSION from the Go module proxy"
  # Outside any module, so no go.mod is read or changed.
  json="$(cd "$(mktemp -d)" && "$go" mod download -json "$KEDA_MODULE@$KEDA_VERSION")"
  dir="$(sed -n 's/^\t"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  sum="$(sed -n 's/^\t"Sum": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ "$sum" == "$KEDA_SUM" ]] || die "keda: module checksum $sum, expected $KEDA_SUM"
  [[ -d "$dir" ]] || die "keda: the module has no directory ($json)"
  rm -rf "$KEDA_SHARE" && mkdir -p "$KEDA_SHARE"
  for file in "${KEDA_FILES[@]}"; do cp "$dir/$file" "$KEDA_SHARE"/; done
  chmod u+w "$KEDA_SHARE"/*
  echo "$stamp" >"$KEDA_SHARE/VERSION"
  log "keda: schemas of $KEDA_VERSION in $KEDA_SHARE"
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
  build_helm
  fetch_keda_schemas
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

# servers NAME...: the names given, checked, or both when none is.
servers() {
  local name
  [[ $# -gt 0 ]] || set -- redis ferretdb
  for name in "$@"; do
    [[ $name == redis || $name == ferretdb ]] || die "unknown server: $name (redis or ferretdb)"
    echo "$name"
  done
}

cmd_start() {
  local name
  mkdir -p "$LOCAL"
  for name in $(servers "$@"); do "start_$name"; done
  log "services are up; export:"
  print_urls
}

cmd_up() {
  case "${1:-}" in
    redis) redis_up ;;
    ferretdb) ferretdb_up ;;
    *) die "up: name redis or ferretdb" ;;
  esac
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
  local name
  for name in $(servers "$@"); do
    case "$name" in
      redis) stop_pidfile redis "$REDIS_PID" redis-server ;;
      ferretdb) stop_pidfile ferretdb "$FERRETDB_PID" ferretdb ;;
    esac
  done
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
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  up) shift; cmd_up "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
