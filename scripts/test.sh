#!/usr/bin/env bash
# scripts/test.sh: what `make test` runs. go vet, then every test, against a real Ollama server
# that this script builds (cached), starts on 127.0.0.1, seeds with the test models and stops.
#
# ALIGN_SKIP_OLLAMA=1 runs without a server: the integration tests then skip, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

# Everything the tests need from the system, installed before any test starts (or a clear stop
# with the command to run). See scripts/deps.sh.
bash scripts/deps.sh

if [ "${ALIGN_SKIP_OLLAMA:-}" = 1 ]; then
  echo "######################################################################" >&2
  echo "# ALIGN_SKIP_OLLAMA=1: integration tests against Ollama are SKIPPED." >&2
  echo "######################################################################" >&2
else
  export ALIGN_OLLAMA_PORT=${ALIGN_OLLAMA_PORT:-11434}
  bash scripts/ollama.sh start
  trap 'bash scripts/ollama.sh stop' EXIT
  eval "$(bash scripts/ollama.sh env)"
  export OLLAMA_HOST ALIGN_OLLAMA_BIN
fi

$GO vet ./...
$GO test -count=1 -timeout 40m ${ALIGN_TEST_FLAGS:-} ./...
