#!/bin/sh
# Whole-model agreement with ONNX Runtime (issue 3): sparsify's engine and
# onnxruntime-node run the same model on the same samples; every output must
# agree within the given tolerances.
#   agree.sh MODEL DATA_DIR WORK_DIR RTOL ATOL
set -eu
model=$1 data=$2 work=$3 rtol=$4 atol=$5
root=${SPARSIFY_SOURCE_DIR:?}
bin=${SPARSIFY_BIN:?}
if [ ! -d "$root/tools/ort/node_modules/onnxruntime-node" ]; then
  echo "onnxruntime-node is not installed: run tools/setup_ort.sh (make deps does)" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work"
"$bin" run --model "$model" --data "$data" --output "$work/sparsify" --quiet
node "$root/tools/ort/run.js" "$model" "$data" "$work/ort" >/dev/null
node "$root/tools/ort/compare.js" "$work/sparsify" "$work/ort" --rtol "$rtol" --atol "$atol"
