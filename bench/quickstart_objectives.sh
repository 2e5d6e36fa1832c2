#!/usr/bin/env bash
# The quickstart objective table (docs/benchmarks.md, "Quickstart: all ten objectives at a
# matched budget"): every objective family on the quickstart recipe (stories260K, rule judge,
# 256 training openings x 4 local samples at temperature 1, 48 tokens, LoRA r8, learning rate
# 2e-3 cosine, batch 8), one run after another, each with 64 optimizer steps in all:
#   offline: one iteration, 256 best-vs-worst pairs x 2 epochs = 64 steps;
#   online: two iterations over fresh halves of the same 256 openings (128 each), <= 128 pairs
#   x 2 epochs = <= 32 steps per iteration, the policy resampled between them;
#   HyPO: the DPO row's 256 pairs x 2 epochs, plus 4 policy samples per prompt per step for its
#   KL term, evaluated on the same 64 held-out openings (eval.prompts).
# Every row is evaluated on the quickstart's 64 held-out openings x 2 samples with the same seeds.
# Usage: bash bench/quickstart_objectives.sh BIN OUTDIR [ROW...]   (no ROW: all rows)
# (inpo-rm and dno-rm: INPO and DNO with a reward model as the oracle, issue 18)
# Writes OUTDIR/ROW.json (result.json), OUTDIR/ROW.time, OUTDIR/commands.txt, OUTDIR/table.md.
set -euo pipefail
BIN=${1:?align binary}
OUT=${2:?output directory}
shift 2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROWS="$*"
run() {
  local name=$1; shift
  want_row "$name" || return 0
  local dir="$OUT/$name"
  rm -rf "$dir"
  echo "== $name: $BIN train --recipe quickstart $*" | tee -a "$OUT/commands.txt"
  grep -qx "$name" "$OUT/rows.txt" 2>/dev/null || echo "$name" >> "$OUT/rows.txt"
  /usr/bin/time -f "%e s wall %U s user %M KB" -o "$OUT/$name.time" \
    "$BIN" train --recipe quickstart --json --quiet --out "$dir" "$@" > "$OUT/$name.json" 2> "$OUT/$name.err" ||
    echo "FAILED $name (see $OUT/$name.err)" | tee -a "$OUT/commands.txt"
}
want_row() { [ -z "$ROWS" ] || [[ " $ROWS " == *" $1 "* ]]; }
ITER2=(--set online.iterations=2)

# Offline objectives: one iteration of best-vs-worst pairs from the base model's samples.
run dpo
run dpo-ipo --set loss_type=ipo
run dpo-hinge --set loss_type=hinge
run dpo-robust --set loss_type=robust --set label_smoothing=0.1
run f-dpo --set objective.name=f_dpo --set objective.params.f_divergence_type=alpha_divergence
run simpo --set objective.name=simpo --set beta=2.0 --set objective.params.gamma_beta_ratio=0.5
run curry-dpo --set objective.name=curry_dpo --set objective.epochs_per_stage=0.67
run srpo --set objective.name=srpo --set 'objective.revision_template={{.Prompt}} {{.Response}} Once more:'
run cpl --set objective.name=cpl
# HyPO: the DPO row's pairs, and its KL term on the current policy's samples at every step.
if want_row hypo; then
  tail -n 64 "$(dirname "$0")/../assets/story_prompts.jsonl" > "$OUT/heldout.jsonl"
  [ -s "$OUT/dpo/stage-1/pairs.jsonl" ] || { echo "hypo needs the dpo row first" >&2; exit 1; }
  run hypo --set objective.name=hypo --set objective.params.lam=0.05 --set objective.params.kl_estimator=rloo \
    --set dataset.path="$OUT/dpo/stage-1/pairs.jsonl" --set dataset.format=pairs \
    --set eval.prompts="$OUT/heldout.jsonl" --set online.pairs.rule=none --set online.kl_samples=per_step
fi
# Online objectives: two iterations over fresh halves of the openings.
run iterative-dpo "${ITER2[@]}"
run inpo --set objective.name=inpo "${ITER2[@]}" --set online.pairs.rule=tournament
run apo --set objective.name=apo --set objective.params.alpha=0.3 "${ITER2[@]}"
# DNO-Prct: every rubric pair (min gap 1) of each iteration, so more pairs than best-vs-worst:
# num_train_epochs 0.72 brings it to DNO's budget of about 64 steps; lr halves in iteration 2.
run dno-prct --set objective.name=dno_prct "${ITER2[@]}" --set online.pairs.rule=rubric \
  --set online.pairs.min_score=1 --set online.pairs.min_gap=1 --set online.pairs.student_gap=1 \
  --set online.pairs.teacher=false --set online.lr_decay=0.5 --set num_train_epochs=0.72
# DNO (theoretical): soft labels from the rule judge's win rates against pi_t.
run dno --set objective.name=dno "${ITER2[@]}" --set online.pairs.rule=rubric \
  --set online.pairs.min_score=1 --set online.pairs.min_gap=1 --set online.pairs.student_gap=1 \
  --set online.pairs.teacher=false --set online.lr_decay=0.5 --set num_train_epochs=0.72
# Reward-model oracle (issue 18): the reward-quickstart model (trained first, once, into
# OUTDIR/rm) judges INPO's tournament and grades DNO's candidates; the rule judge (the recipe's
# words) still evaluates. DNO's rubric rule on rewards: any positive, the negative at least 2
# reward units lower (sigma(2) = 0.88), no teacher, lr halving in iteration 2; about 4.4 such
# pairs per opening, so num_train_epochs 0.4 for about 64 steps.
if want_row inpo-rm || want_row dno-rm; then
  [ -f "$OUT/rm/result.json" ] || "$BIN" train --recipe reward-quickstart --json --quiet --out "$OUT/rm" > "$OUT/rm.json" 2> "$OUT/rm.err"
fi
RM=(--set online.judge.kind=reward --set "online.judge.run=$OUT/rm")
run inpo-rm --set objective.name=inpo "${ITER2[@]}" --set online.pairs.rule=tournament "${RM[@]}"
run dno-rm --set objective.name=dno "${ITER2[@]}" --set online.pairs.rule=rubric "${RM[@]}" \
  --set online.pairs.min_score=-100 --set online.pairs.min_gap=2 --set online.pairs.student_gap=2 \
  --set online.pairs.teacher=false --set online.lr_decay=0.5 --set num_train_epochs=0.4

# The table, rows in run order.
{
  echo "| row | optimizer steps | pairs | win rate before | win rate after | KL (nats/response) | training s | whole run: wall s | whole run: user s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  while read -r n; do
    f="$OUT/$n.json"
    read -r wall _ _ user _ < "$OUT/$n.time" 2>/dev/null || { wall='?'; user='?'; }
    jq -r --arg n "$n" --arg w "$wall" --arg u "$user" '"| \($n) | \(.steps) | \(.pairs) | \(.win_rate_before*1000|round/10)% | \(.win_rate_after*1000|round/10)% | \(.kl_to_reference*10|round/10) | \(.train_seconds*10|round/10) | \($w) | \($u) |"' "$f" 2>/dev/null ||
      echo "| $n | failed: $(tail -n 1 "$OUT/$n.err" 2>/dev/null) |"
  done < "$OUT/rows.txt"
} > "$OUT/table.md"
cat "$OUT/table.md"
