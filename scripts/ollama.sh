#!/usr/bin/env bash
# scripts/ollama.sh: build, start, seed and stop a real Ollama server for align's tests.
#
#   scripts/ollama.sh build          build Ollama v$OLLAMA_VERSION from the Go module proxy (cached)
#   scripts/ollama.sh start          start it on 127.0.0.1 with a throwaway OLLAMA_MODELS; import test models
#   scripts/ollama.sh stop           stop the server started by `start` (by PID)
#   scripts/ollama.sh env            print the export lines for a started server
#
# Environment:
#   OLLAMA_VERSION     default 0.17.4
#   ALIGN_CACHE        default $HOME/.cache/align   (the binary goes to $ALIGN_CACHE/ollama-$OLLAMA_VERSION/bin)
#   ALIGN_OLLAMA_PORT  default 11434
#   ALIGN_OLLAMA_STATE default $ALIGN_CACHE/ollama-run  (pid file, log, model store)
#   OLLAMA_NUM_PARALLEL default 4
#   OLLAMA_MAX_LOADED_MODELS default 8 (the test models are tiny; evicting them makes queues)
#   ALIGN_OLLAMA_NUM_THREAD default 1: the imported test models get PARAMETER num_thread (see below)
#
# See docs/runtime.md and ../shared/design/RUNTIME.md for why the build needs the extra headers.
set -euo pipefail

OLLAMA_VERSION=${OLLAMA_VERSION:-0.17.4}
ALIGN_CACHE=${ALIGN_CACHE:-$HOME/.cache/align}
PREFIX="$ALIGN_CACHE/ollama-$OLLAMA_VERSION"
BIN="$PREFIX/bin/ollama"
PORT=${ALIGN_OLLAMA_PORT:-11434}
STATE=${ALIGN_OLLAMA_STATE:-$ALIGN_CACHE/ollama-run-$PORT}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "ollama.sh: $*" >&2; }

# What the build needs from Debian (g++, the nlohmann and stb headers, curl) is scripts/deps.sh's
# to know and install, as for every other test dependency.
install_prereqs() {
  ALIGN_SKIP_CHROMIUM=1 ALIGN_SKIP_NODE=1 bash "$REPO_ROOT/scripts/deps.sh"
}

build() {
  if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    log "cached: $BIN"
    return 0
  fi
  install_prereqs
  local inc="$PREFIX/include"
  mkdir -p "$inc/miniaudio" "$PREFIX/bin"
  # miniaudio has no Debian package; its single header ships in the malgo Go module.
  local malgo
  malgo=$(cd "$REPO_ROOT" && GOFLAGS=-mod=mod go mod download -json github.com/gen2brain/malgo@v0.11.24 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$malgo/miniaudio.h" "$inc/miniaudio/miniaudio.h"
  log "building Ollama v$OLLAMA_VERSION (about 500 CPU-seconds when cold)"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && GOBIN="$PREFIX/bin" CGO_ENABLED=1 CGO_CPPFLAGS="-I$inc" GOFLAGS=-mod=mod \
    go install -ldflags "-X github.com/ollama/ollama/version.Version=$OLLAMA_VERSION" \
    "github.com/ollama/ollama@v$OLLAMA_VERSION")
  rm -rf "$tmp"
  "$BIN" --version >/dev/null 2>&1 || { log "build produced no working binary"; exit 1; }
  log "built $BIN"
}

wait_up() {
  local i
  for i in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/api/version" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "server did not answer /api/version; log follows"; tail -50 "$STATE/ollama.log" >&2 || true
  return 1
}

# The test models are tiny (dim 64 and 8): threads cannot help them, and on a loaded machine
# ggml's spinning thread pool makes each token wait for descheduled threads. Measured here on 2
# busy cores: 4 tokens took 0.2-4 s with the default thread count and 5-10 ms with num_thread 1.
NUM_THREAD=${ALIGN_OLLAMA_NUM_THREAD:-1}

import_model() { # name file
  local name=$1 file=$2 digest
  digest=$(sha256sum "$file" | cut -d' ' -f1)
  curl -fsS -X POST -T "$file" "http://127.0.0.1:$PORT/api/blobs/sha256:$digest" >/dev/null
  curl -fsS "http://127.0.0.1:$PORT/api/create" -d "{\"model\":\"$name\",\"files\":{\"$(basename "$file")\":\"sha256:$digest\"},\"parameters\":{\"num_thread\":$NUM_THREAD},\"stream\":false}" >/dev/null
  log "imported $name from $(basename "$file") (num_thread $NUM_THREAD)"
}

start() {
  build
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    log "already running (pid $(cat "$STATE/pid"))"
  elif curl -fsS "http://127.0.0.1:$PORT/api/version" >/dev/null 2>&1; then
    # Someone else's server holds the port: use it, but never claim (or later stop) it.
    log "a server not started by this script answers on 127.0.0.1:$PORT; using it, and \`stop\` will leave it alone"
  else
    rm -rf "$STATE"; mkdir -p "$STATE/models"
    (
      export OLLAMA_HOST="127.0.0.1:$PORT" OLLAMA_MODELS="$STATE/models" HOME="$STATE"
      export OLLAMA_NUM_PARALLEL=${OLLAMA_NUM_PARALLEL:-4} OLLAMA_KEEP_ALIVE=${OLLAMA_KEEP_ALIVE:-30m}
      export OLLAMA_MAX_LOADED_MODELS=${OLLAMA_MAX_LOADED_MODELS:-8}
      setsid "$BIN" serve >"$STATE/ollama.log" 2>&1 < /dev/null &
      echo $! >"$STATE/pid"
    )
    wait_up
    log "started on 127.0.0.1:$PORT (pid $(cat "$STATE/pid"), models in $STATE/models)"
  fi
  import_model stories260k "$REPO_ROOT/testdata/models/stories260K.gguf"
  import_model tiny-random "$REPO_ROOT/testdata/models/llama-2-tiny-random.gguf"
}

stop() {
  if [ -f "$STATE/pid" ]; then
    local pid; pid=$(cat "$STATE/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"; for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      log "stopped pid $pid"
    fi
    rm -f "$STATE/pid"
  fi
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  env) echo "export OLLAMA_HOST=127.0.0.1:$PORT ALIGN_OLLAMA_BIN=$BIN" ;;
  bin) echo "$BIN" ;;
  *) echo "usage: $0 build|start|stop|env|bin" >&2; exit 2 ;;
esac
