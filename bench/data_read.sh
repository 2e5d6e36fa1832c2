#!/usr/bin/env bash
# bench/data_read.sh [ROWS]: Parquet read speed of docs/benchmarks.md ## Data, old vs new in
# one run. Reads $ALIGN_BENCH_DIR/pref-ROWS.parquet (default /tmp/align-bench, written by
# bench/data_convert.sh ROWS) with `align data validate` on one core (GOMAXPROCS=1), built from
# the working tree and, when ALIGN_BASE_REF names a git commit, from that commit too (exported
# with git archive, the repository untouched), alternating the two RUNS times (default 2).
# Prints per run CPU seconds (user+sys), MB of text per CPU second and peak RSS: on a shared
# machine compare the two builds' figures from the same run, not the wall clock.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
runs=${RUNS:-2}
dir=${ALIGN_BENCH_DIR:-/tmp/align-bench}
file="$dir/pref-$rows.parquet"
[ -s "$file" ] || { echo "no $file: run bench/data_convert.sh $rows first" >&2; exit 1; }
text=$(awk '{print $4}' "$dir/gen-$rows.txt")
go build -o "$dir/align-new" ./cmd/align
bins=(new)
if [ -n "${ALIGN_BASE_REF:-}" ]; then
  rm -rf "$dir/base-src" && mkdir -p "$dir/base-src"
  git archive "$ALIGN_BASE_REF" | tar -x -C "$dir/base-src"
  (cd "$dir/base-src" && go build -o "$dir/align-base" ./cmd/align)
  bins=(base new)
fi
echo "rows $rows, text $((text / 1000000)) MB, Parquet $(( $(stat -c %s "$file") / 1000000 )) MB"
for i in $(seq "$runs"); do
  for b in "${bins[@]}"; do
    /usr/bin/time -v env GOMAXPROCS=1 "$dir/align-$b" data validate "$file" > /dev/null 2> "$dir/time.txt" || { cat "$dir/time.txt"; exit 1; }
    awk -F': ' -v b="$b" -v t="$text" -v r="$rows" '
      /User time|System time/ {c += $2}
      /Maximum resident set size/ {m = int($2 / 1024)}
      /Elapsed \(wall clock\)/ {n = split($2, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i]}
      END {printf "%-5s wall %6.1f s | cpu %6.2f s %9.0f rows/cpu-s %6.1f MB/cpu-s | peak RSS %4d MB\n", b, w, c, r / c, t / c / 1e6, m}' "$dir/time.txt"
  done
done
