#!/usr/bin/env bash
# bench/data_convert.sh [ROWS]: the data benchmark of docs/benchmarks.md ## Data.
# Generates a preference JSONL (ROWS rows, default 1,000,000, about 1 GB of text) in
# /tmp/align-bench, converts JSONL -> Parquet -> JSONL with `align data convert`, and reads the
# Parquet alone with `align data validate` on one core (GOMAXPROCS=1). Prints, per step,
# wall seconds, rows/s, MB/s of text and peak RSS (from /usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
dir=${ALIGN_BENCH_DIR:-/tmp/align-bench}
mkdir -p "$dir"
go build -o "$dir/align" ./cmd/align
if [ ! -s "$dir/pref-$rows.jsonl" ]; then
  go run bench/data_gen.go -rows "$rows" -out "$dir/pref-$rows.jsonl" 2> "$dir/gen-$rows.txt"
fi
text=$(awk '{print $4}' "$dir/gen-$rows.txt")
echo "rows $rows, text $((text / 1000000)) MB, JSONL $(( $(stat -c %s "$dir/pref-$rows.jsonl") / 1000000 )) MB"
step() { # name, then the command
  local name=$1; shift
  /usr/bin/time -v "$@" > /dev/null 2> "$dir/time.txt" || { cat "$dir/time.txt"; exit 1; }
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print int($2/1024)}' "$dir/time.txt")
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$dir/time.txt")
  # MB/s of text per wall second, and per CPU second (user+sys), which is what one core does
  # when the machine is shared.
  awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rows" -v t="$text" -v m="$rss" \
    'BEGIN {printf "%-32s wall %6.1f s %9.0f rows/s %6.1f MB/s | cpu %6.1f s %9.0f rows/cpu-s %6.1f MB/cpu-s | peak RSS %4d MB\n", n, w, r/w, t/w/1e6, c, r/c, t/c/1e6, m}'
}
step "JSONL -> Parquet (convert)" "$dir/align" data convert "$dir/pref-$rows.jsonl" "$dir/pref-$rows.parquet"
echo "Parquet $(( $(stat -c %s "$dir/pref-$rows.parquet") / 1000000 )) MB"
step "Parquet -> JSONL (convert)" "$dir/align" data convert "$dir/pref-$rows.parquet" "$dir/back-$rows.jsonl"
step "Parquet read+validate, 1 core" env GOMAXPROCS=1 "$dir/align" data validate "$dir/pref-$rows.parquet"
step "JSONL read+validate, 1 core" env GOMAXPROCS=1 "$dir/align" data validate "$dir/pref-$rows.jsonl"
