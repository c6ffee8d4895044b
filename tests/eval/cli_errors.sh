#!/usr/bin/env bash
# `sparsify eval` refuses bad labels files before running anything, with exit
# code 3 and a message naming the file and the problem; and scores the demo's
# labelled samples (61/64) the same on 1 and 2 ranks.
#   cli_errors.sh SPARSIFY IDX2NPZ WORKDIR
set -u
SPARSIFY=$1 IDX2NPZ=$2 WORK=$3
SRC=${SPARSIFY_SOURCE_DIR:?}
DEMO=$SRC/demo/fashion-cnn
FM=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
rm -rf "$WORK" && mkdir -p "$WORK"
fail=0
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ] || ! grep -q -- "$pat" <<<"$out"; then
    echo "FAIL: $* -> exit $rc (want $code), output: $out (want /$pat/)"; fail=1
  else
    echo "ok: exit $rc, /$pat/"
  fi
}
# A float32 .npy of 64 zeros, written by hand (numpy's format 1.0).
float_npy() {
  local hdr="{'descr': '<f4', 'fortran_order': False, 'shape': (64,), }"
  while [ $(( (10 + ${#hdr} + 1) % 64 )) -ne 0 ]; do hdr="$hdr "; done
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#hdr} + 1) % 256 )))\\x$(printf %02x $(( (${#hdr} + 1) / 256 )))";
    printf '%s\n' "$hdr"; head -c 256 /dev/zero; } > "$1"
}
float_npy "$WORK/float.npy"
"$IDX2NPZ" --images "$FM/t10k-images-idx3-ubyte.gz" --labels "$FM/t10k-labels-idx1-ubyte.gz" \
  --out "$WORK/ten" --labels-out "$WORK/ten-labels.npy" --count 10 >/dev/null || { echo "FAIL: idx2npz"; exit 1; }

E=("$SPARSIFY" eval --model "$DEMO/model.onnx" --data "$DEMO/data")
expect 3 "10 labels for 64 samples" -- "${E[@]}" --labels "$WORK/ten-labels.npy"
expect 3 "labels must be integers .*got float32" -- "${E[@]}" --labels "$WORK/float.npy"
expect 3 "missing.npy: cannot open" -- "${E[@]}" --labels "$WORK/missing.npy"
expect 3 "not an .npy" -- "${E[@]}" --labels "$DEMO/data/sample_0000.npz"
expect 2 "eval: missing --labels" -- "${E[@]}"
expect 0 "top-1 accuracy 95.31% (61/64 samples, 10 classes)" -- "${E[@]}" --labels "$DEMO/labels.npy"
expect 0 "top-1 accuracy 95.31% (61/64" -- mpirun -np 2 "${E[@]}" --labels "$DEMO/labels.npy" --batch 5
expect 0 '"difference_points": 0' -- "${E[@]}" --labels "$DEMO/labels.npy" --compare "$DEMO/model.onnx" --json
# The 10 test images through the zoo names, scored against their own labels.
expect 0 "(.*/10 samples" -- "$SPARSIFY" eval --model fashion-cnn --data "$WORK/ten" --labels "$WORK/ten-labels.npy"
exit $fail
