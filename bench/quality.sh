#!/usr/bin/env bash
# Quality of one-shot compression on the demo CNN (issue 5.7): one-shot at
# levels 0.2, 0.5, 0.8 and 1.0, with SparseGPT and with magnitude pruning,
# each scored with `sparsify eval` on the full 10,000-image Fashion-MNIST test
# set (made by idx2npz from Debian's dataset-fashion-mnist). Writes
# OUT/quality.csv and OUT/quality.md, and the plot docs/quality.png through
# bench/plot_quality.py when python3-matplotlib is there.
#
#   bench/quality.sh [BUILD_DIR]        (default: build)
# Environment:
#   MODEL=fashion-cnn      zoo entry (or path) to compress; its calibration data
#                          is the zoo entry of the same name
#   OUT=bench/out          where the table and the compressed models go
#   RANKS=2                MPI ranks for one-shot
#   CALIB=demo             calibration data: "demo" (the zoo entry's 64 training
#                          images) or a number N: the first N training images
#   LEVELS="0.2 0.5 0.8 1.0"
#   EXTRA="..."            extra one-shot flags (e.g. --calibration-method mse)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
OUT=${OUT:-$SRC/bench/out}
RANKS=${RANKS:-2}
CALIB=${CALIB:-demo}
LEVELS=${LEVELS:-"0.2 0.5 0.8 1.0"}
EXTRA=${EXTRA:-}
MODEL=${MODEL:-fashion-cnn}
FM=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
SPARSIFY=$BUILD/sparsify
IDX2NPZ=$BUILD/tests/idx2npz
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1

for f in "$SPARSIFY" "$IDX2NPZ"; do
  [ -x "$f" ] || { echo "quality.sh: $f missing: build first (make build)" >&2; exit 2; }
done
[ -r "$FM/t10k-images-idx3-ubyte.gz" ] || { echo "quality.sh: $FM: install dataset-fashion-mnist" >&2; exit 2; }
mkdir -p "$OUT"
WORK=$OUT/quality-work
rm -rf "$WORK"
mkdir -p "$WORK"

"$IDX2NPZ" --images "$FM/t10k-images-idx3-ubyte.gz" --labels "$FM/t10k-labels-idx1-ubyte.gz" \
  --out "$WORK/test" --labels-out "$WORK/test-labels.npy" >/dev/null
if [ "$CALIB" = demo ]; then
  DATA=$MODEL
  CALIB_DESC="the $MODEL zoo entry's calibration images"
else
  "$IDX2NPZ" --images "$FM/train-images-idx3-ubyte.gz" --labels "$FM/train-labels-idx1-ubyte.gz" \
    --out "$WORK/calib" --labels-out "$WORK/calib-labels.npy" --count "$CALIB" >/dev/null
  DATA=$WORK/calib
  CALIB_DESC="the first $CALIB training images"
fi

# eval --json prints "correct": N, "count": M.
accuracy() {
  "$SPARSIFY" eval -q --model "$1" --data "$WORK/test" --labels "$WORK/test-labels.npy" --batch 128 --json |
    sed -n 's/.*"correct": \([0-9]*\), "count": \([0-9]*\).*/\1 \2/p' | head -1
}

read -r dc dn < <(accuracy "$MODEL")
dense=$(awk -v c="$dc" -v n="$dn" 'BEGIN { printf "%.2f", 100 * c / n }')
echo "dense: $dense% ($dc/$dn)"
CSV=$OUT/quality.csv
echo "level,method,sparsity,accuracy,delta_points,fidelity_top1_agreement" > "$CSV"
echo "0,dense,0,$dense,0," >> "$CSV"

for level in $LEVELS; do
  for method in sparsegpt magnitude; do
    # Below 0.3 nothing is pruned: one INT8-only run stands for both methods.
    if awk -v l="$level" 'BEGIN { exit !(l < 0.3) }' && [ "$method" = magnitude ]; then continue; fi
    dir=$WORK/l$level-$method
    # shellcheck disable=SC2086
    mpirun -np "$RANKS" "$SPARSIFY" one-shot -q --use-case cv-classification --model "$MODEL" --data "$DATA" \
      --optim-level "$level" --prune-method "$method" --output "$dir" $EXTRA > "$dir.log" 2>&1 ||
      { echo "quality.sh: one-shot level $level $method failed:" >&2; cat "$dir.log" >&2; exit 1; }
    read -r c n < <(accuracy "$dir/model.onnx")
    sp=$(sed -n 's/.*"sparsity_of_pruned_layers": \([0-9.eE+-]*\).*/\1/p' "$dir/report.json" | head -1)
    agree=$(sed -n 's/.*"top1_agreement": \([0-9.eE+-]*\).*/\1/p' "$dir/report.json" | head -1)
    acc=$(awk -v c="$c" -v n="$n" 'BEGIN { printf "%.2f", 100 * c / n }')
    delta=$(awk -v a="$acc" -v d="$dense" 'BEGIN { printf "%+.2f", a - d }')
    printf 'level %s %-9s sparsity %.3f  top-1 %s%%  (%s points)\n' "$level" "$method" "${sp:-0}" "$acc" "$delta"
    echo "$level,$method,${sp:-0},$acc,$delta,${agree:-}" >> "$CSV"
  done
done

MD=$OUT/quality.md
{
  echo "| level | method | sparsity of pruned layers | top-1 (10,000 test images) | vs dense |"
  echo "|------:|--------|--------------------------:|---------------------------:|---------:|"
  tail -n +2 "$CSV" | while IFS=, read -r level method sp acc delta _; do
    printf '| %s | %s | %.1f%% | %s%% | %s |\n' "$level" "$method" "$(awk -v s="$sp" 'BEGIN { print 100 * s }')" \
      "$acc" "$delta"
  done
  echo
  echo "Calibration: $CALIB_DESC ($RANKS ranks${EXTRA:+, $EXTRA}); $(date -u +%Y-%m-%d), $(nproc) cores" \
       "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')."
} > "$MD"
cat "$MD"

if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 "$SRC/bench/plot_quality.py" "$CSV" "${PLOT:-$SRC/docs/quality.png}" "$CALIB_DESC" "$MODEL"
else
  echo "quality.sh: python3-matplotlib missing: no plot" >&2
fi
rm -rf "$WORK/test" "$WORK/calib"
