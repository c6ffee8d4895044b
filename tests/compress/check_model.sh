#!/bin/bash
# Compresses one test model at several optim levels with compress_tool and
# checks each result: onnx's checker accepts it, ONNX Runtime (fused, as
# deployed, and unfused) and sparsify's engine run it, and their outputs agree.
#
# Tolerance: both runtimes evaluate the same QDQ graph. They differ where one
# rounds x / scale to the other side of a .5 tie (float arithmetic order), or
# where ORT's fused integer kernels requantize differently: one uint8 step of
# one intermediate activation, which moves the float outputs by about
# |w| * scale of the layers after it. Measured: <= 3e-6 on the CNNs, 2.3e-2 on
# one of 320 bert_tiny token logits at level 1.0 (values ~1.4). atol 3e-2
# (5e-2 fused) allows that step; a wrong scale, axis, zero point or bias is off
# by orders of magnitude more. bert_tiny needs more room: a one-step flip in an
# attention score passes through Softmax and two more layers (measured 4.6e-2 on
# one of 320 logits at level 0.5), so it gets atol 8e-2 (1e-1 fused).
#   check_model.sh CASE COMPRESS_TOOL SPARSIFY_BIN
set -euo pipefail
case_name=$1 tool=$2 sparsify=$3
src=${SPARSIFY_SOURCE_DIR:?}
ort=$src/tools/ort
if [ "$case_name" = demo ]; then dir=$src/demo/fashion-cnn; else dir=$src/tests/models/$case_name; fi
family=cv
levels="0.2 0.5 1.0"
atol=3e-2 atol_fused=5e-2
case $case_name in
  bert_tiny) family=nlp atol=8e-2 atol_fused=1e-1 ;;
  const_cnn|seg_det|mobile|cnn) levels="0.2 0.5" ;;
esac
if [ ! -d "$ort/node_modules/onnxruntime-node" ]; then
  echo "onnxruntime-node missing: run tools/setup_ort.sh (make deps)"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for level in $levels; do
  out=$tmp/$level
  mkdir -p "$out"
  "$tool" "$dir/model.onnx" "$dir/data" "$out/model.onnx" "$level" --family $family --samples 16 \
    --report "$out/report.json"
  /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" \
    "$out/model.onnx"
  node "$ort/run.js" "$out/model.onnx" "$dir/data" "$out/ort" > /dev/null
  node "$ort/run.js" "$out/model.onnx" "$dir/data" "$out/ort_unfused" --graph-opt disabled > /dev/null
  "$sparsify" run -q --model "$out/model.onnx" --data "$dir/data" --output "$out/sp"
  node "$ort/compare.js" "$out/sp" "$out/ort_unfused" --rtol 1e-2 --atol $atol | tail -n 1
  node "$ort/compare.js" "$out/sp" "$out/ort" --rtol 2e-2 --atol $atol_fused | tail -n 1
  echo "level $level: checker, ONNX Runtime and sparsify agree"
done
