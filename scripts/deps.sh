#!/usr/bin/env bash
# scripts/deps.sh: the one place that knows what align's tests need from the system, and installs
# it. `make test` (scripts/test.sh), `scripts/ollama.sh build` and `.ci/run` all call it, so the
# three cannot drift.
#
#   scripts/deps.sh            install what is missing (Debian's apt-get, as root or with sudo -n)
#   scripts/deps.sh --check    only report; exit 1 when something is missing
#   scripts/deps.sh --list     print the Debian packages the current settings need
#
# What is needed depends on what will run:
#   always                    make gcc git curl ca-certificates
#   the Ollama server         g++ nlohmann-json3-dev libstb-dev   (skipped by ALIGN_SKIP_OLLAMA=1)
#   the report rendering test chromium                           (skipped by ALIGN_SKIP_CHROMIUM=1)
#   the Parquet reader check  nodejs npm, and hyparquet from npm (skipped by ALIGN_SKIP_NODE=1)
#   the o200k_base check      js-tiktoken from npm, with node         (skipped by ALIGN_SKIP_NODE=1)
#   the PyTorch bench peer    python3-torch libopenblas0-pthread (only with ALIGN_WITH_TORCH=1:
#                             about 1 GB installed, and only `align bench train` uses it; no test
#                             and no CI job needs it)
#
# When it cannot install (not root and no passwordless sudo, or no apt-get), it stops before any
# test starts and prints the exact command to run. It never fails halfway through the suite.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALIGN_CACHE=${ALIGN_CACHE:-$HOME/.cache/align}
# hyparquet is a dependency-free JavaScript Parquet reader: the independent reader that
# data/reference_reader_test.go checks align's Parquet files against. Pinned for repeatable tests.
HYPARQUET_VERSION=${HYPARQUET_VERSION:-1.33.0}
HYPARQUET_COMPRESSORS_VERSION=${HYPARQUET_COMPRESSORS_VERSION:-1.1.2}
NODE_PREFIX="$ALIGN_CACHE/node-hyparquet-$HYPARQUET_VERSION"
# js-tiktoken (MIT) is the independent GPT-4o encoder that eval/tiktoken's token counts are
# checked against (eval/tiktoken/tiktoken_test.go), and the source of its embedded ranks.
JS_TIKTOKEN_VERSION=${JS_TIKTOKEN_VERSION:-1.0.21}
TIKTOKEN_PREFIX="$ALIGN_CACHE/node-js-tiktoken-$JS_TIKTOKEN_VERSION"

log() { echo "deps.sh: $*" >&2; }

# have PKG: the Debian package is installed, or (off Debian) what it provides is present.
have() {
  if command -v dpkg-query >/dev/null 2>&1; then
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ] && return 0
  fi
  case "$1" in
    nlohmann-json3-dev) [ -f /usr/include/nlohmann/json_fwd.hpp ] ;;
    libstb-dev) [ -f /usr/include/stb/stb_image.h ] ;;
    chromium) command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null ;;
    ca-certificates) [ -d /etc/ssl/certs ] ;;
    nodejs) command -v node >/dev/null ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

needed() {
  local pkgs=(make gcc git curl ca-certificates)
  [ "${ALIGN_SKIP_OLLAMA:-}" = 1 ] || pkgs+=(g++ nlohmann-json3-dev libstb-dev)
  [ "${ALIGN_SKIP_CHROMIUM:-}" = 1 ] || pkgs+=(chromium)
  [ "${ALIGN_SKIP_NODE:-}" = 1 ] || pkgs+=(nodejs npm)
  [ "${ALIGN_WITH_TORCH:-}" = 1 ] && pkgs+=(python3-torch libopenblas0-pthread)
  echo "${pkgs[@]}"
}

node_ready() { [ -f "$NODE_PREFIX/node_modules/hyparquet-compressors/package.json" ] && [ -f "$NODE_PREFIX/node_modules/hyparquet/package.json" ]; }
tiktoken_ready() { [ -f "$TIKTOKEN_PREFIX/node_modules/js-tiktoken/package.json" ]; }

mode=${1:-install}
case "$mode" in
  --list) needed; exit 0 ;;
  --check|install) ;;
  *) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

missing=()
for p in $(needed); do
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi # node images ship npm outside dpkg
  have "$p" || missing+=("$p")
done
need_hyparquet=0
[ "${ALIGN_SKIP_NODE:-}" = 1 ] || node_ready || need_hyparquet=1
need_tiktoken=0
[ "${ALIGN_SKIP_NODE:-}" = 1 ] || tiktoken_ready || need_tiktoken=1

if [ ${#missing[@]} -eq 0 ] && [ $need_hyparquet = 0 ] && [ $need_tiktoken = 0 ]; then
  exit 0
fi
if [ "$mode" = --check ]; then
  [ ${#missing[@]} -gt 0 ] && log "missing Debian packages: ${missing[*]}"
  [ $need_hyparquet = 1 ] && log "missing: hyparquet@$HYPARQUET_VERSION from npm in $NODE_PREFIX"
  [ $need_tiktoken = 1 ] && log "missing: js-tiktoken@$JS_TIKTOKEN_VERSION from npm in $TIKTOKEN_PREFIX"
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  fi
  if [ "$sudo" = none ] || ! command -v apt-get >/dev/null; then
    log "the tests need these Debian packages, and this script cannot install them here"
    log "(it needs root or passwordless sudo, and apt-get). Run this, then run the tests again:"
    echo
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    echo
    log "or skip what you cannot install: ALIGN_SKIP_OLLAMA=1 (server), ALIGN_SKIP_CHROMIUM=1 (report rendering), ALIGN_SKIP_NODE=1 (Parquet reference reader); those tests then skip, loudly"
    exit 1
  fi
  start=$SECONDS
  log "installing from Debian: ${missing[*]} (first run only; Chromium is the large one, about a minute)"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed ${missing[*]} in $((SECONDS - start)) s"
fi

if [ $need_hyparquet = 1 ]; then
  start=$SECONDS
  log "installing hyparquet@$HYPARQUET_VERSION from npm into $NODE_PREFIX (first run only)"
  mkdir -p "$NODE_PREFIX"
  (cd "$NODE_PREFIX" && npm install --silent --no-audit --no-fund --prefix "$NODE_PREFIX" "hyparquet@$HYPARQUET_VERSION" "hyparquet-compressors@$HYPARQUET_COMPRESSORS_VERSION" >/dev/null) ||
    { log "npm install hyparquet@$HYPARQUET_VERSION failed; run it by hand: npm install --prefix $NODE_PREFIX hyparquet@$HYPARQUET_VERSION"; exit 1; }
  log "installed hyparquet in $((SECONDS - start)) s"
fi

if [ $need_tiktoken = 1 ]; then
  start=$SECONDS
  log "installing js-tiktoken@$JS_TIKTOKEN_VERSION from npm into $TIKTOKEN_PREFIX (first run only)"
  mkdir -p "$TIKTOKEN_PREFIX"
  (cd "$TIKTOKEN_PREFIX" && npm install --silent --no-audit --no-fund --prefix "$TIKTOKEN_PREFIX" "js-tiktoken@$JS_TIKTOKEN_VERSION" >/dev/null) ||
    { log "npm install js-tiktoken@$JS_TIKTOKEN_VERSION failed; run it by hand: npm install --prefix $TIKTOKEN_PREFIX js-tiktoken@$JS_TIKTOKEN_VERSION"; exit 1; }
  log "installed js-tiktoken in $((SECONDS - start)) s"
fi
