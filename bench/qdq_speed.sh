#!/bin/sh
# Times the compressed (QDQ INT8) models against the dense ones in ONNX
# Runtime (issue 5, point 8: target >= 1.8x at --optim-level 0.5).
#
# For resnet50 and bert_base (sequence 128) it compresses each model with the
# compression core (tests/compress/compress_tool: single-process calibration on
# a few random .npz samples, then sp_compress) at every level of --levels,
# saves the graph ONNX Runtime really runs (tools/ort/optimized.js) and prints
# its op counts, then times dense and compressed models alternately, ROUNDS
# times each (A B C A B C ...), so load from other processes hits all alike;
# the best median of each is kept. The table gives ms per batch and the
# speedup over dense. Random weights and random calibration data: this
# measures speed, not accuracy. Generates bench/out/*.onnx with
# bench/make_bench_models.py when missing and builds compress_tool if needed.
#
# Usage: bench/qdq_speed.sh [--rounds R] [--iters K] [--models "resnet50 bert_base"]
#                           [--batches "1 8"] [--levels "0.2 0.5"] [--threads T]
#                           [--samples N] [--work DIR]
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3).
# Compressed models are kept in --work (default bench/out/qdq) and reused when
# newer than the model and compress_tool. Markdown on stdout, progress on stderr.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
case $build in /*) ;; *) build=$src/$build ;; esac
python=${PYTHON:-/usr/bin/python3}
rounds=3
iters=10
models="resnet50 bert_base"
batches="1 8"
levels="0.2 0.5"
threads=1
samples=4
work=$src/bench/out/qdq

while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --levels) levels=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "qdq_speed.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

tool=$build/tests/compress_tool
if [ ! -x "$tool" ]; then
  echo "qdq_speed.sh: building compress_tool in $build" >&2
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target compress_tool >&2
fi
if [ ! -d "$src/tools/ort/node_modules/onnxruntime-node" ]; then
  "$src/tools/setup_ort.sh" >&2
fi
for m in $models; do
  if [ ! -f "$src/bench/out/$m.onnx" ]; then
    echo "qdq_speed.sh: generating bench/out/*.onnx (a few minutes)" >&2
    "$python" "$src/bench/make_bench_models.py" >&2
    break
  fi
done
mkdir -p "$work"

# Random calibration samples (one per .npz, no batch dimension).
"$python" - "$work" "$samples" <<'EOF'
import os, sys
import numpy as np
work, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for name in ("resnet50", "bert_base"):
    d = os.path.join(work, name + "_data")
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        p = os.path.join(d, "%04d.npz" % i)
        if os.path.exists(p):
            continue
        if name == "resnet50":
            np.savez(p, input=rng.standard_normal((3, 224, 224)).astype(np.float32))
        else:
            np.savez(p, input_ids=rng.integers(0, 100, (128,)).astype(np.int64),
                     attention_mask=np.ones(128, np.int64))
EOF

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
median() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).latency_ms.median))'; }

echo "| model | batch | dense ms | $(for l in $levels; do printf 'level %s ms | speedup | ' "$l"; done | sed 's/ | $//') |"
echo "|---|---|---|$(for l in $levels; do printf -- '---|---|'; done)"
graphs=""
for m in $models; do
  family=cv
  [ "$m" = bert_base ] && family=nlp
  dense=$src/bench/out/$m.onnx
  for l in $levels; do
    out=$work/${m}_$l.onnx
    if [ ! -f "$out" ] || [ "$dense" -nt "$out" ] || [ "$tool" -nt "$out" ]; then
      echo "qdq_speed.sh: compressing $m at level $l" >&2
      "$tool" "$dense" "$work/${m}_data" "$out" "$l" --family $family --samples "$samples" >&2
    fi
    ops=$(node "$src/tools/ort/optimized.js" "$out" "$work/${m}_$l.ort.onnx" 2>/dev/null)
    rm -f "$work/${m}_$l.ort.onnx"
    graphs="$graphs
- $m level $l: \`$ops\`"
  done
  for b in $batches; do
    best=""
    r=0
    while [ $r -lt "$rounds" ]; do
      r=$((r + 1))
      line=""
      for f in "$dense" $(for l in $levels; do echo "$work/${m}_$l.onnx"; done); do
        t=$(node "$src/tools/ort/bench.js" "$f" --batch "$b" --threads "$threads" --iters "$iters" --json | median)
        line="$line $t"
        echo "qdq_speed.sh: $m batch $b round $r $(basename "$f"): $t ms" >&2
      done
      best=$(echo "$best|$line" | awk -F'|' '{n=split($2,a," "); m=split($1,b," ");
        for(i=1;i<=n;i++){v=a[i]; if(m>=i && b[i]<v) v=b[i]; printf "%s ", v}}')
    done
    echo "$best" | awk -v m="$m" -v b="$b" '{printf "| %s | %s | %.1f |", m, b, $1;
      for(i=2;i<=NF;i++) printf " %.1f | %.2fx |", $i, $1/$i; printf "\n"}'
  done
done
echo
echo "Op types in the graphs ONNX Runtime runs (graphOptimizationLevel all):$graphs"
