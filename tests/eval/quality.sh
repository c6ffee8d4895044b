#!/usr/bin/env bash
# Issue 5.7 in CI: a CNN the project trains on Fashion-MNIST, compressed by
# one-shot at levels 0.2, 0.5 and 1.0 (SparseGPT, 2 ranks) keeps its top-1
# accuracy on the full 10,000-image Fashion-MNIST test set within the targets:
# 0.2 within 0.3 points of dense, 0.5 within 0.5, 1.0 within 2.
#   quality.sh SPARSIFY TESTDIR LABELS WORKDIR [MODEL [CALIB]]   (TESTDIR/LABELS
#   made by idx2npz; MODEL a zoo entry, default fashion-cnn; CALIB the
#   calibration folder, default the zoo entry's own data)
# CI scores fashion-cnn-large calibrated on 1,024 training images: the 61k-
# parameter demo CNN is too small for 80% sparsity in one shot (see
# docs/benchmarks.md, Quality).
set -u
SPARSIFY=$1 TEST=$2 LABELS=$3 WORK=$4 MODEL=${5:-fashion-cnn} CALIB=${6:-${5:-fashion-cnn}}
rm -rf "$WORK" && mkdir -p "$WORK"
acc() { # prints accuracy in hundredths of a point (integer)
  "$SPARSIFY" eval -q --model "$1" --data "$TEST" --labels "$LABELS" --batch 128 --json |
    sed -n 's/.*"correct": \([0-9]*\), "count": \([0-9]*\).*/\1 \2/p' | awk '{ printf "%d", 10000 * $1 / $2 }'
}
dense=$(acc "$MODEL")
if [ "$MODEL" = fashion-cnn ] && [ "$dense" != 9015 ]; then
  echo "FAIL: dense accuracy $dense/100 %, demo README says 90.15%"; exit 1
fi
if [ "$MODEL" = fashion-cnn-large ] && [ "$dense" != 9051 ]; then
  echo "FAIL: dense accuracy $dense/100 %, fashion-cnn-large README says 90.51%"; exit 1
fi
echo "dense ($MODEL): $((dense / 100)).$(printf %02d $((dense % 100)))%"
fail=0
for spec in 0.2:30 0.5:50 1.0:200; do
  level=${spec%:*} limit=${spec#*:}
  out=$WORK/l$level
  if ! mpirun -np 2 "$SPARSIFY" one-shot -q --use-case cv-classification --model "$MODEL" --data "$CALIB" \
      --optim-level "$level" --output "$out" > "$out.log" 2>&1; then
    echo "FAIL: one-shot level $level:"; cat "$out.log"; fail=1; continue
  fi
  a=$(acc "$out/model.onnx")
  loss=$((dense - a))
  msg=$(printf 'level %s: top-1 %d.%02d%%, %d.%02d points below dense (target: within %d.%02d)' "$level" \
        $((a / 100)) $((a % 100)) $((loss / 100)) $((loss % 100)) $((limit / 100)) $((limit % 100)))
  if [ "$loss" -gt "$limit" ]; then echo "FAIL: $msg"; fail=1; else echo "ok: $msg"; fi
done
exit $fail
