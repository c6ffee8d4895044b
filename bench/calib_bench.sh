#!/bin/bash
# Calibration throughput benchmark (issue 4, point 8). Needs a build
# (BUILD=build by default, with tests/calib_run) and the benchmark models from
# bench/make_bench_models.py in bench/out/. Writes random samples (numpy) to a
# temporary folder, then for ResNet-50 and BERT-base at np = 1 and 2 reports
# samples/s, the time split, the Hessian GFLOP/s against OpenBLAS sgemm, the
# parallel efficiency, and peak RSS per rank for 64 vs 1024 samples (demo CNN).
#
#   bench/calib_bench.sh [N_RESNET=8] [N_BERT=8]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUN=$BUILD/tests/calib_run
NR=${1:-8}
NB=${2:-8}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$RUN" ] || { echo "build first: $RUN missing"; exit 1; }
for m in resnet50 bert_base; do
    [ -f "$ROOT/bench/out/$m.onnx" ] || { echo "make the models: /usr/bin/python3 bench/make_bench_models.py"; exit 1; }
done

/usr/bin/python3 - "$TMP" "$NR" "$NB" <<'PY'
import os, sys, numpy as np
out, nr, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
os.makedirs(f"{out}/resnet50"); os.makedirs(f"{out}/bert_base"); os.makedirs(f"{out}/cnn1024")
for i in range(nr):
    np.savez(f"{out}/resnet50/s{i:05d}.npz", input=rng.standard_normal((3, 224, 224), dtype=np.float32))
for i in range(nb):
    np.savez(f"{out}/bert_base/s{i:05d}.npz", input_ids=rng.integers(0, 30522, 128, dtype=np.int64),
             attention_mask=np.ones(128, dtype=np.int64))
for i in range(1024):
    np.savez(f"{out}/cnn1024/s{i:05d}.npz", input=rng.standard_normal((1, 28, 28), dtype=np.float32))
PY
mkdir -p "$TMP/cnn64"
ls "$TMP/cnn1024" | head -64 | while read -r f; do cp -p "$TMP/cnn1024/$f" "$TMP/cnn64/"; done

cc -O2 -o "$TMP/sgemm" "$ROOT/bench/sgemm_bench.c" $(pkg-config --cflags --libs openblas)
SGEMM=$("$TMP/sgemm" 1024)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); OpenBLAS sgemm 1024^3, 1 thread: $SGEMM GFLOP/s"

declare -A RATE PEAK
run() { # model data np batch
    local out
    out=$(mpirun --oversubscribe -np "$3" "$RUN" "$ROOT/bench/out/$1.onnx" "$2" --prune --batch "$4" 2>/dev/null)
    local tl samples
    PEAK[$1_$3]=$(echo "$out" | awk '/^peak_rss_mb/{print $2}')
    tl=$(echo "$out" | grep '^time')
    samples=$(echo "$out" | awk '/^samples/{print $2}')
    echo "$out" | grep -q '^digest' || { echo "run failed: $1 np=$3"; return 1; }
    # time total T load L forward F hessian H histogram G reduce R checkpoint C hessian_gflop X groups_run N
    echo "$tl" | awk -v m="$1" -v np="$3" -v s="$samples" -v sg="$SGEMM" '{
        T=$3; printf "| %s | %d | %d | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f%% |\n",
        m, np, s, s/T, $7, $9, $11, $13, $15, ($9>0? $17/$9 : 0), ($9>0? 100*($17/$9)/sg : 0) }'
    RATE[$1_$3]=$(echo "$tl" | awk -v s="$samples" '{print s/$3}')
}
echo
echo "| model | ranks | samples | samples/s | forward s | Hessian s | histogram s | reduce s | checkpoint s | Hessian GFLOP/s (rank 0) | of sgemm |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
run resnet50 "$TMP/resnet50" 1 4
run resnet50 "$TMP/resnet50" 2 4
run bert_base "$TMP/bert_base" 1 4
run bert_base "$TMP/bert_base" 2 4
echo
for m in resnet50 bert_base; do
    awk -v a="${RATE[${m}_1]}" -v b="${RATE[${m}_2]}" -v m="$m" -v r1="${PEAK[${m}_1]}" -v r2="${PEAK[${m}_2]}" \
        'BEGIN{printf "%s: speed-up np=2 vs 1: %.2fx, parallel efficiency %.0f%%; peak RSS per rank %s MB (np=1), %s MB (np=2)\n", m, b/a, 50*b/a, r1, r2}'
done
echo
echo "| demo CNN samples | ranks | peak RSS per rank (MB) |"
echo "|---|---|---|"
for d in cnn64 cnn1024; do
    # calib_run reports the largest getrusage(RUSAGE_SELF) peak over the ranks.
    rss=$(mpirun --oversubscribe -np 2 "$RUN" "$ROOT/demo/fashion-cnn/model.onnx" "$TMP/$d" --prune --batch 8 \
        2>/dev/null | awk '/^peak_rss_mb/{print $2}')
    echo "| ${d#cnn} | 2 | $rss |"
done
