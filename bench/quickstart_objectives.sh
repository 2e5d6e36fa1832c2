#!/usr/bin/env bash
# The quickstart objective table (docs/benchmarks.md, "Quickstart: all ten objectives"): each of
# the ten objectives on the quickstart recipe (stories260K, rule judge, 256 training openings x 4
# local samples, LoRA r8, learning rate 2e-3 cosine, 2 epochs per stage), one run after another.
# Usage: bash bench/quickstart_objectives.sh BIN OUTDIR
set -euo pipefail
BIN=${1:?align binary}
OUT=${2:?output directory}
mkdir -p "$OUT"
run() {
  local name=$1; shift
  local dir="$OUT/$name"
  rm -rf "$dir"
  echo "== $name: $BIN train --recipe quickstart $*" | tee -a "$OUT/commands.txt"
  /usr/bin/time -f "%e s wall %U s user %M KB" -o "$OUT/$name.time" \
    "$BIN" train --recipe quickstart --json --quiet --out "$dir" "$@" > "$OUT/$name.json" 2> "$OUT/$name.err" || echo "FAILED $name" | tee -a "$OUT/commands.txt"
}
# Offline objectives: one iteration of best-vs-worst pairs from the base model's samples.
run dpo
run f-dpo --set objective.name=f_dpo --set objective.params.f_divergence_type=alpha_divergence
run simpo --set objective.name=simpo --set beta=2.0 --set objective.params.gamma_beta_ratio=0.5
run curry-dpo --set objective.name=curry_dpo --set objective.epochs_per_stage=0.67
run srpo --set objective.name=srpo --set 'objective.revision_template={{.Prompt}} {{.Response}} Once more:'
run cpl --set objective.name=cpl
# Online objectives: two iterations over fresh halves of the same 256 openings (128 each, 2
# epochs per iteration), the policy resampled between them.
run inpo --set objective.name=inpo --set online.iterations=2 --set online.pairs.rule=tournament
run apo --set objective.name=apo --set objective.params.alpha=0.3 --set online.iterations=2
run dno --set objective.name=dno_prct --set online.iterations=2 --set online.pairs.rule=rubric \
  --set online.pairs.min_score=1 --set online.pairs.min_gap=1 --set online.pairs.student_gap=1 \
  --set online.pairs.teacher=false --set online.select_best=true --set online.lr_decay=0.5
