#!/usr/bin/env bash
# Log-prob parity with the real Ollama v0.17.4 at real model shapes (docs/model.md "Parity at
# real shapes", docs/benchmarks.md): `align bench parity` for each shape, one process per shape
# (so that each peak RSS is its own), against a server started here with OLLAMA_KEEP_ALIVE=0
# (its runner frees the weights after each generation, before align loads them),
# OLLAMA_NUM_PARALLEL=1 and OLLAMA_MAX_LOADED_MODELS=1.
# Usage: bash bench/parity_real.sh BIN OUTDIR PORT [SHAPE[:PROMPTS[:LAYERS]]...]
#   (no SHAPE: qwen3-0.6b-shape gemma3-270m-shape gemma2-2b-shape:1 phi3-mini-shape:1, every shape at
#   its published depth: the generators need about 4 bytes per parameter, 15 GB for phi3-mini, see
#   docs/model.md)
# Environment: TOKENS (default 24), TYPES (default f16,q8_0; any of f16, q8_0, q4_k, f32), GGUF_DIR (default OUTDIR),
#   SMALL_VOCAB=1 (--small-vocab: the qwen3 and gemma shapes with the unpadded test vocabularies).
# Writes OUTDIR/NAME.json (one line per prompt and type), OUTDIR/NAME.err, OUTDIR/NAME.time (NAME is
# SHAPE, or SHAPE-<LAYERS>l), OUTDIR/commands.txt.
set -euo pipefail
BIN=${1:?align binary}
OUT=${2:?output directory}
PORT=${3:?Ollama port}
shift 3
SHAPES=${*:-"qwen3-0.6b-shape gemma3-270m-shape gemma2-2b-shape:1 phi3-mini-shape:1"}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
OLLAMA_KEEP_ALIVE=0 OLLAMA_NUM_PARALLEL=1 OLLAMA_MAX_LOADED_MODELS=1 ALIGN_OLLAMA_PORT=$PORT bash "$HERE/scripts/ollama.sh" start >&2
trap 'ALIGN_OLLAMA_PORT=$PORT bash "$HERE/scripts/ollama.sh" stop >&2' EXIT
eval "$(ALIGN_OLLAMA_PORT=$PORT bash "$HERE/scripts/ollama.sh" env)"
status=0
for sp in $SHAPES; do
  IFS=: read -r shape prompts layers <<< "$sp"
  out=$shape
  [[ ${layers:-0} != 0 ]] && out=$shape-${layers}l
  cmd=("$BIN" bench parity --json --training-path --shapes "$shape" --prompts "${prompts:-0}" --layers "${layers:-0}" --tokens "${TOKENS:-24}"
    --types "${TYPES:-f16,q8_0}" --dir "${GGUF_DIR:-$OUT}" --stories "$HERE/testdata/models/stories260K.gguf"
    --phi3-vocab "$HERE/testdata/vocab/ggml-vocab-phi-3.gguf")
  if [[ ${SMALL_VOCAB:-} == 1 ]]; then cmd+=(--small-vocab); fi
  echo "OLLAMA_HOST=$OLLAMA_HOST ${cmd[*]}" | tee -a "$OUT/commands.txt"
  /usr/bin/time -f "%e s wall %U s user %M KB" -o "$OUT/$out.time" "${cmd[@]}" > "$OUT/$out.json" 2> "$OUT/$out.err" ||
    { status=1; echo "FAILED $sp (see $OUT/$out.err)" | tee -a "$OUT/commands.txt"; }
done
exit $status
