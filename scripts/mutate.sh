#!/usr/bin/env bash
# scripts/mutate.sh: what `make mutate` runs. gremlins on objectives/ (efficacy gate 97%) and on
# pairs/ (gate 95%), the second against a real Ollama server that this script starts and stops,
# as scripts/test.sh does: pairs' sampler and LLM-judge tests talk to it, and without it every
# mutant of theirs would be "killed" by a test that cannot run.
#
# GREMLINS (the binary), MUTATE_FLAGS (gremlins' flags) come from the Makefile; the figures and
# the wall times of earlier runs are in docs/benchmarks.md, "Mutation testing".
set -euo pipefail
cd "$(dirname "$0")/.."
GREMLINS=${GREMLINS:-$(go env GOPATH)/bin/gremlins}
MUTATE_FLAGS=${MUTATE_FLAGS:---workers 2 --test-cpu 1 --timeout-coefficient 60}
[ -x "$GREMLINS" ] || { echo "gremlins not found: go install github.com/go-gremlins/gremlins/cmd/gremlins@latest" >&2; exit 1; }

# shellcheck disable=SC2086 # MUTATE_FLAGS is a list of flags
"$GREMLINS" unleash $MUTATE_FLAGS --threshold-efficacy 97 ./objectives

bash scripts/deps.sh
export ALIGN_OLLAMA_PORT=${ALIGN_OLLAMA_PORT:-11434}
bash scripts/ollama.sh start
trap 'bash scripts/ollama.sh stop' EXIT
eval "$(bash scripts/ollama.sh env)"
export OLLAMA_HOST ALIGN_OLLAMA_BIN
# shellcheck disable=SC2086
"$GREMLINS" unleash $MUTATE_FLAGS --threshold-efficacy 95 ./pairs
