#!/bin/bash
# Runs one libFuzzer harness for a fixed time from its seed corpus:
#   run_fuzz.sh FUZZER SECONDS SEED_SOURCE...
# SEED_SOURCE: files or folders whose files seed the corpus; "ckpt:TOOL" runs
# the seed_ckpt TOOL into the corpus; "models:DIR" takes every .onnx file
# under DIR (under 1 MB), named by its path since most are called model.onnx. The working corpus and any crash
# artifact go to $FUZZ_OUT (default: a folder next to the fuzzer binary), so
# a crash found in CI can be replayed: FUZZER ARTIFACT.
set -u
FUZZER=${1:?fuzzer}
SECS=${2:?seconds}
shift 2
NAME=$(basename "$FUZZER")
OUT=${FUZZ_OUT:-$(dirname "$FUZZER")/fuzz-$NAME}
mkdir -p "$OUT/corpus" "$OUT/seeds" "$OUT/artifacts"
for s in "$@"; do
    case $s in
    ckpt:*) "${s#ckpt:}" "$OUT/seeds" || exit 1 ;;
    models:*) if [ -d "${s#models:}" ]; then
                  find "${s#models:}" -name '*.onnx' -size -1024k | while read -r f; do
                      cp "$f" "$OUT/seeds/$(echo "$f" | tr / _)"; done
              fi ;;
    *) if [ -d "$s" ]; then find "$s" -type f -size -2M -exec cp -t "$OUT/seeds" {} + 2>/dev/null
       elif [ -f "$s" ]; then cp "$s" "$OUT/seeds/$(echo "$s" | tr / _)"; fi ;;
    esac
done
# Allocations above 512 MiB fail (NULL) instead of ending the run as an
# out-of-memory finding: a hostile model may ask for any size, and sparsify's
# answer to a failed allocation (SP_ERR_NOMEM) is the path worth fuzzing.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:allocator_may_return_null=1:max_allocation_size_mb=512
# HDF5 keeps free lists across calls, which the per-input leak check reports
# as leaks (not reproducible on the input alone): suppressed like Open MPI's.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")/.." && pwd)/sanitize/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# FUZZ_RUNS=N FUZZ_SEED=S: exactly N inputs from a fixed seed instead of
# SECONDS of time: the same commit then always fuzzes the same inputs, so a
# CI gate passes or fails reproducibly (longer, open-ended runs find the rest).
if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
else
    budget=(-max_total_time="$SECS")
    [ -n "${FUZZ_SEED:-}" ] && budget+=(-seed="$FUZZ_SEED")
fi
"$FUZZER" "$OUT/corpus" "$OUT/seeds" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=4096 -max_len=1048576 \
    -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 2>"$OUT/log.txt"
rc=$?
grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss|INFO: seed corpus|.*cov: )" "$OUT/log.txt" | tail -4
[ $rc -eq 0 ] || { echo "fuzzer $NAME failed ($rc):"; grep -A30 "ERROR\|SUMMARY" "$OUT/log.txt" | head -60; ls "$OUT/artifacts"; }
exit $rc
