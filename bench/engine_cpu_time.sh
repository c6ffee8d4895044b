#!/bin/bash
# CPU time per run of sparsify and ONNX Runtime, one thread, batch 1: a figure
# that other processes' load disturbs far less than wall-clock time (they
# still share caches and memory bandwidth). For each model, CPU seconds
# (user + sys) with 9 timed runs minus with 1, divided by 8, so model loading
# and start-up cancel out. Complements engine_bench.sh on a busy machine.
#
# Usage: bench/engine_cpu_time.sh [auto|env]   (auto: OPENBLAS_CORETYPE unset,
# OpenBLAS detects the CPU; env: keep the environment's). BUILD_DIR as in
# engine_bench.sh. Prints Markdown table rows.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
cd "$src"
export OPENBLAS_NUM_THREADS=1
[ "${1:-auto}" = auto ] && unset OPENBLAS_CORETYPE
cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -n 1 | awk '{print $1 + $2}'; }
for m in resnet50 bert_base; do
  M=bench/out/$m.onnx
  K=9
  s1=$(cpu "$build/sparsify" bench --model "$M" --iters 1 --warmup 0 --threads 1 --quiet)
  o1=$(cpu node tools/ort/bench.js "$M" --iters 1 --warmup 0)
  sk=$(cpu "$build/sparsify" bench --model "$M" --iters $K --warmup 0 --threads 1 --quiet)
  ok=$(cpu node tools/ort/bench.js "$M" --iters $K --warmup 0)
  awk -v m="$m" -v s1="$s1" -v sk="$sk" -v o1="$o1" -v ok="$ok" -v k=$K -v c="${OPENBLAS_CORETYPE:-auto}" \
    'BEGIN { s = (sk - s1) / (k - 1) * 1000; o = (ok - o1) / (k - 1) * 1000;
             printf "| %s | 1 | %s | %.0f | %.0f | %.2fx |\n", m, c, s, o, o / s }'
done
