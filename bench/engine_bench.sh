#!/bin/sh
# Times sparsify's engine against ONNX Runtime on the same models, same
# machine, same thread count, in one run (issue 3, point 6).
#
# For resnet50 and bert_base (sequence 128) at batch 1 and 8 on one thread,
# `sparsify bench` and tools/ort/bench.js run alternately, ROUNDS times each
# (A B A B ...), so load from other processes hits both sides alike; the best
# median of each side is kept and the table gives samples/s and the ratio
# sparsify / ONNX Runtime. Builds sparsify if needed and generates the random-
# weight models with bench/make_bench_models.py if bench/out lacks them.
#
# Usage: bench/engine_bench.sh [--rounds R] [--iters K] [--models "resnet50 bert_base"]
#                              [--batches "1 8"] [--threads T] [--blas-core CORE]
# --blas-core: OPENBLAS_CORETYPE for sparsify's OpenBLAS (e.g. Haswell, SkylakeX);
# "auto" unsets it so OpenBLAS detects the CPU; default: the environment's.
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3).
# Prints a Markdown table on stdout, progress on stderr.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
case $build in /*) ;; *) build=$src/$build ;; esac
python=${PYTHON:-/usr/bin/python3}
rounds=3
iters=10
models="resnet50 bert_base"
batches="1 8"
threads=1
blas_core=

while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --blas-core) blas_core=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "engine_bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$build/sparsify" ]; then
  echo "engine_bench.sh: building sparsify in $build" >&2
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target sparsify_cli >&2
fi
if [ ! -d "$src/tools/ort/node_modules/onnxruntime-node" ]; then
  "$src/tools/setup_ort.sh" >&2
fi
for m in $models; do
  if [ ! -f "$src/bench/out/$m.onnx" ]; then
    echo "engine_bench.sh: generating bench/out/*.onnx (a few minutes)" >&2
    "$python" "$src/bench/make_bench_models.py" >&2
    break
  fi
done

# One thread everywhere: OpenBLAS in sparsify, intra-op threads in ORT.
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
case $blas_core in
  "") ;;
  auto) unset OPENBLAS_CORETYPE ;;
  *) export OPENBLAS_CORETYPE=$blas_core ;;
esac
echo "engine_bench.sh: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}, $threads thread(s), $rounds rounds of $iters iters; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Median latency in ms from a JSON line of either tool.
median() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).latency_ms.median))'; }
best() { tr ' ' '\n' | grep . | sort -g | head -n 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| model | batch | sparsify samples/s | ONNX Runtime samples/s | sparsify / ORT |"
echo "|---|---:|---:|---:|---:|"
for m in $models; do
  file=$src/bench/out/$m.onnx
  case $m in bert*) dims="--dim S=128 --dim seq=128"; ortdims="--seq 128" ;; *) dims=""; ortdims="" ;; esac
  for b in $batches; do
    sp=""; ort=""
    r=1
    while [ "$r" -le "$rounds" ]; do
      # shellcheck disable=SC2086
      "$build/sparsify" bench --quiet --model "$file" --batch "$b" --threads "$threads" --iters "$iters" \
        --warmup 2 $dims --json >"$tmp/sp.json"
      sp="$sp $(median <"$tmp/sp.json")"
      # shellcheck disable=SC2086
      node "$src/tools/ort/bench.js" "$file" --batch "$b" --threads "$threads" --iters "$iters" --warmup 2 \
        $ortdims --json >"$tmp/ort.json"
      ort="$ort $(median <"$tmp/ort.json")"
      echo "engine_bench.sh: $m batch $b round $r: sparsify$sp ms | ORT$ort ms" >&2
      r=$((r + 1))
    done
    spb=$(echo "$sp" | best)
    ortb=$(echo "$ort" | best)
    awk -v m="$m" -v b="$b" -v s="$spb" -v o="$ortb" \
      'BEGIN { ts = b * 1000 / s; to = b * 1000 / o; printf "| %s | %d | %.2f | %.2f | %.2fx |\n", m, b, ts, to, ts / to }'
  done
done
