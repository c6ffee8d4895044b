#!/bin/bash
# Runs the serial unit-test programs (tests/unit, one process each) and one
# whole one-shot job (a singleton) under valgrind memcheck:
#   valgrind.sh BUILD_DIR [NAME_REGEX]   (names: test_data, ..., one_shot)
# An invalid read/write, a use of uninitialised memory or a definite leak in
# sparsify's code fails the run (exit 99 from valgrind). Open MPI's own
# reports are suppressed with the file Debian ships plus
# valgrind-openmpi.supp (its start-up leaks; deep stacks so they match).
set -u
BUILD=$(cd "${1:?build dir}" && pwd) || exit 1 # absolute: each program runs from its own folder
FILTER=${2:-.}
SUPP=/usr/share/openmpi/openmpi-valgrind.supp
HERE=$(cd "$(dirname "$0")" && pwd)
export SPARSIFY_SOURCE_DIR=${SPARSIFY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export SPARSIFY_BUILD_DIR=$BUILD SPARSIFY_BIN=$BUILD/sparsify OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1
failed=0
# memcheck NAME DIR COMMAND...: one program under memcheck, run in DIR.
memcheck() {
    local name=$1 dir=$2
    shift 2
    local log=$BUILD/valgrind-$name.log start=$SECONDS
    (cd "$dir" && valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no \
        --num-callers=50 --suppressions="$SUPP" --suppressions="$HERE/valgrind-openmpi.supp" --log-file="$log" "$@" \
        >"$log.out" 2>&1)
    local rc=$?
    local summary
    summary=$(grep -m1 "ERROR SUMMARY" "$log" | sed 's/==[0-9]*== //')
    echo "$name: exit $rc, $summary ($((SECONDS - start)) s)"
    [ $rc -eq 0 ] || { failed=1; grep -A12 "Invalid\|uninitialised\|definitely lost" "$log" | head -40; tail -5 "$log.out"; }
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [[ $name =~ $FILTER ]] || continue
    memcheck "$name" "$BUILD/tests" "$t"
done
# The whole one-shot job in one process: calibration with Hessians, SparseGPT,
# INT8, the QDQ rewrite, saving and the fidelity check, on 8 demo samples.
if [[ one_shot =~ $FILTER ]]; then
    work=$(mktemp -d)
    cp "$SPARSIFY_SOURCE_DIR"/demo/fashion-cnn/data/sample_000[0-7].npz "$work/" 2>/dev/null
    mkdir -p "$work/data" && mv "$work"/*.npz "$work/data/"
    memcheck one_shot "$work" "$BUILD/sparsify" one-shot -u ic -m "$SPARSIFY_SOURCE_DIR/demo/fashion-cnn/model.onnx" \
        -d "$work/data" -o "$work/out" -l 0.8 --batch-size 2 --holdout 0.25 --checkpoint-every 1
    [ -f "$work/out/model.onnx" ] || { echo "one_shot: no model written under valgrind"; failed=1; }
    rm -rf "$work"
fi
exit $failed
