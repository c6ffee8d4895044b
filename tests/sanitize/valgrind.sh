#!/bin/bash
# Runs the serial unit-test programs (tests/unit, one process each) under
# valgrind memcheck:  valgrind.sh BUILD_DIR [TEST_NAME_REGEX]
# An invalid read/write, a use of uninitialised memory or a definite leak in
# sparsify's code fails the run (exit 99 from valgrind). Open MPI's own
# reports are suppressed with the file Debian ships plus
# valgrind-openmpi.supp (its start-up leaks; deep stacks so they match).
set -u
BUILD=${1:?build dir}
FILTER=${2:-.}
SUPP=/usr/share/openmpi/openmpi-valgrind.supp
HERE=$(cd "$(dirname "$0")" && pwd)
export SPARSIFY_SOURCE_DIR=${SPARSIFY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export SPARSIFY_BUILD_DIR=$BUILD SPARSIFY_BIN=$BUILD/sparsify OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1
failed=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [[ $name =~ $FILTER ]] || continue
    log=$BUILD/valgrind-$name.log
    start=$SECONDS
    (cd "$BUILD/tests" && valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no \
        --num-callers=50 --suppressions="$SUPP" --suppressions="$HERE/valgrind-openmpi.supp" --log-file="$log" "$t" >"$log.out" 2>&1)
    rc=$?
    summary=$(grep -m1 "ERROR SUMMARY" "$log" | sed 's/==[0-9]*== //')
    echo "$name: exit $rc, $summary ($((SECONDS - start)) s)"
    [ $rc -eq 0 ] || { failed=1; grep -A12 "Invalid\|uninitialised\|definitely lost" "$log" | head -40; tail -5 "$log.out"; }
done
exit $failed
