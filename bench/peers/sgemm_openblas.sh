#!/bin/sh
# Builds bench/peers/sgemm_openblas.c against Debian's OpenBLAS (apt-get install libopenblas-dev
# gcc) and runs it with OPENBLAS_CORETYPE=SkylakeX for 1 and 2 threads (override with THREADS).
# Extra arguments are M,K,N shapes. Output: JSON lines like `align bench kernels --json`.
# SGEMM_CLOCK=cpu times the 1-thread runs by the thread's CPU time (as --cpu-time does);
# SGEMM_MIN_TIME sets the seconds per point (default 1).
#   sh bench/peers/sgemm_openblas.sh
#   THREADS=1 SGEMM_MIN_TIME=0.2 sh bench/peers/sgemm_openblas.sh 512,576,576
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/align-sgemm-openblas
cc -O2 -o "$out" "$here/sgemm_openblas.c" -lopenblas
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
for t in ${THREADS:-1 2}; do
	OPENBLAS_NUM_THREADS=$t "$out" "$@"
done
