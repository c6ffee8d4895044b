#!/bin/bash
# Script tests of the built sparsify binary, one case per CTest entry:
#   bash cases.sh CASE
# Environment (set by tests/cli.cmake): SPARSIFY_BIN, SPARSIFY_SOURCE_DIR,
# SPARSIFY_MPIEXEC, SPARSIFY_NP_FLAG, SPARSIFY_CHECK_REPORT, and the Open MPI
# settings of SPARSIFY_TEST_ENV. Model and data: the demo (demo/fashion-cnn).
set -u

BIN=${SPARSIFY_BIN:?}
SRC=${SPARSIFY_SOURCE_DIR:?}
MPIEXEC=${SPARSIFY_MPIEXEC:-mpirun}
NP=${SPARSIFY_NP_FLAG:--np}
CHECK=${SPARSIFY_CHECK_REPORT:?}
ZOO=$SRC/demo
ENTRY=fashion-cnn
MODEL=$ZOO/$ENTRY/model.onnx
DATA=$ZOO/$ENTRY/data
export ASAN_OPTIONS=detect_leaks=0 # Open MPI's own leaks, see ENVIRONMENT.md

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sparsify-cli-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILED=0

fail() { echo "FAIL: $*" >&2; FAILED=1; }

# run OUTFILE ERRFILE cmd...: runs, returns its exit code.
run() {
    local out=$1 err=$2
    shift 2
    "$@" >"$out" 2>"$err"
}

mpi2() { "$MPIEXEC" "$NP" 2 "$@"; }

# sparsify's own error lines (mpirun adds its banner on non-zero exits).
error_lines() { grep -c '^sparsify: error: ' "$1"; }

expect_code() { # expect_code WANT GOT WHAT
    [ "$2" -eq "$1" ] || fail "$3: exit code $2, expected $1"
}

expect_one_error() { # expect_one_error ERRFILE PATTERN WHAT
    local n
    n=$(error_lines "$1")
    [ "$n" -eq 1 ] || { fail "$3: $n error lines, expected 1"; cat "$1" >&2; }
    grep -q -- "$2" "$1" || { fail "$3: error does not mention '$2'"; cat "$1" >&2; }
}

[ -f "$MODEL" ] && [ -d "$DATA" ] || { echo "demo missing: $MODEL" >&2; exit 1; }
NSAMPLES=$(ls "$DATA"/*.npz | wc -l)

case_help_and_version() {
    run "$WORK/o" "$WORK/e" "$BIN" --version; expect_code 0 $? "--version"
    grep -q '^sparsify [0-9]' "$WORK/o" || fail "--version prints 'sparsify X.Y.Z'"
    run "$WORK/o" "$WORK/e" "$BIN" --help; expect_code 0 $? "--help"
    for w in one-shot run bench eval "Exit codes" " 5 " " 70 "; do
        grep -q -- "$w" "$WORK/o" || fail "--help lacks '$w'"
    done
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --help; expect_code 0 $? "one-shot --help"
    for f in --model --data --use-case --optim-level --output --zoo --batch-size --checkpoint-every --resume \
             --holdout --prune-method --calibration-method --exclude --quiet --log-level; do
        grep -q -- "$f" "$WORK/o" || fail "one-shot --help lacks $f"
    done
    run "$WORK/o" "$WORK/e" "$BIN" run --help; expect_code 0 $? "run --help"
    grep -q -- "--output" "$WORK/o" || fail "run --help lacks --output"
    run "$WORK/o" "$WORK/e" "$BIN" bench --model "$MODEL" --iters 1 --warmup 0; expect_code 0 $? "bench"
    grep -q -i "latency" "$WORK/o" || fail "bench prints no latency"
}

case_bad_flags() {
    local base=(one-shot --use-case ic --model "$MODEL" --data "$DATA" --output "$WORK/out")
    # Each line: expected flag name in the message | arguments. (unit_cli covers
    # every flag in-process; these check the binary end to end.)
    while IFS='|' read -r flag args; do
        [ -n "$flag" ] || continue
        eval "set -- $args"
        run "$WORK/o" "$WORK/e" "$BIN" "$@"
        local rc=$?
        expect_code 2 $rc "sparsify $args"
        [ "$(wc -l <"$WORK/e")" -eq 1 ] || { fail "sparsify $args: stderr is not one line"; cat "$WORK/e" >&2; }
        grep -q -- "$flag" "$WORK/e" || { fail "sparsify $args: message does not name $flag"; cat "$WORK/e" >&2; }
        [ ! -e "$WORK/out" ] || fail "sparsify $args: created the output folder"
    done <<EOF2
--optim-level|${base[*]} --optim-level 1.5
--optim-level|${base[*]} --optim-level -0
--optim-level|${base[*]} --optim-level
--use-case|one-shot --use-case '' --model $MODEL --data $DATA
--model|one-shot --use-case ic --model --data $DATA
--batch-size|${base[*]} --batch-size 0
--holdout|${base[*]} --holdout 0.9
--prune-method|${base[*]} --prune-method random
--frobnicate|${base[*]} --frobnicate
unknown command|oneshot --model x
EOF2
    run "$WORK/o" "$WORK/e" "$BIN"; expect_code 2 $? "no command"
}

case_zoo_names() {
    # A zoo of our own with two entries, given by --zoo and by SPARSIFY_ZOO.
    mkdir -p "$WORK/zoo/alpha" "$WORK/zoo/beta"
    cp "$MODEL" "$WORK/zoo/alpha/model.onnx"
    cp -r "$DATA" "$WORK/zoo/alpha/data"
    cp "$MODEL" "$WORK/zoo/beta/model.onnx"
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --zoo "$WORK/zoo" --model alpha --data alpha --use-case ic \
        --optim-level 0 --output "$WORK/out1" --quiet
    expect_code 0 $? "--zoo with names"
    cmp -s "$MODEL" "$WORK/out1/model.onnx" || fail "zoo entry model not copied"
    "$CHECK" "$WORK/out1/report.json" 'inputs.model_zoo_name="alpha"' 'inputs.data_zoo_name="alpha"' ||
        fail "report lacks the zoo names"
    SPARSIFY_ZOO=$WORK/zoo run "$WORK/o" "$WORK/e" "$BIN" one-shot --model alpha --data alpha --use-case ic \
        --optim-level 0 --output "$WORK/out2" --quiet
    expect_code 0 $? "SPARSIFY_ZOO with names"
    # Unknown name: exit 3, one line listing the known entries, nothing written.
    SPARSIFY_ZOO=$WORK/zoo run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --model gamma --data alpha --use-case ic \
        --optim-level 0 --output "$WORK/out3"
    expect_code 3 $? "unknown zoo name"
    expect_one_error "$WORK/e" "known: alpha, beta" "unknown zoo name"
    grep -q "'gamma'" "$WORK/e" || fail "unknown zoo name: message lacks the name"
    [ ! -e "$WORK/out3" ] || fail "unknown zoo name created the output folder"
    # An entry without data/ is unknown as DATA.
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --zoo "$WORK/zoo" --model beta --data beta --use-case ic \
        --optim-level 0 --output "$WORK/out4"
    expect_code 3 $? "zoo entry without data"
    expect_one_error "$WORK/e" "--data beta" "zoo entry without data"
    # The demo is the default zoo of a build tree.
    (unset SPARSIFY_ZOO; cd "$WORK" && "$BIN" one-shot --model $ENTRY --data $ENTRY --use-case ic --optim-level 0 \
        --quiet >/dev/null 2>"$WORK/e")
    expect_code 0 $? "default zoo (demo)"
    cmp -s "$MODEL" "$WORK/sparsify-output/model.onnx" || fail "default output folder ./sparsify-output missing"
}

check_level0_output() { # DIR RANKS
    cmp -s "$MODEL" "$1/model.onnx" || fail "level 0: $1/model.onnx differs from the input"
    "$CHECK" "$1/report.json" \
        'command="one-shot"' 'sparsify_version?=string' \
        'use_case.canonical="cv-classification"' 'use_case.family="cv"' 'use_case.custom=false' \
        'use_case.requested="image_classification"' \
        'optim_level.requested="0"' 'optim_level.resolved=0' \
        'plan.quantize=false' 'plan.prune=false' 'plan.target_sparsity=0' \
        "data.samples=$NSAMPLES" "mpi.ranks=$2" \
        'timings_s.load_model?=number' 'timings_s.validate_data?=number' 'timings_s.total?=number' \
        'actions.0="level 0: model returned unchanged"' 'outputs.model="model.onnx"' \
        || fail "level 0: report.json fields"
    local extra
    extra=$(ls -A "$1" | grep -v -x -e model.onnx -e report.json)
    [ -z "$extra" ] || fail "level 0: unexpected files in $1: $extra"
}

case_level0_np2() {
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case image_classification --zoo "$ZOO" --model $ENTRY \
        --data $ENTRY --optim-level 0 --output "$WORK/a/b/out"
    expect_code 0 $? "level 0 on 2 ranks"
    cat "$WORK/e" >&2
    check_level0_output "$WORK/a/b/out" 2
    # Info lines come from rank 0 only: each appears once.
    [ "$(grep -c 'samples match' "$WORK/e")" -eq 1 ] || fail "info line printed by more than one rank"
}

case_level0_np1_alias() {
    ln -s "$BIN" "$WORK/sparsify.run"
    run "$WORK/o" "$WORK/e" "$WORK/sparsify.run" one-shot --use-case image_classification --model "$MODEL" \
        --data "$DATA" --optim-level 0 --output "$WORK/out"
    expect_code 0 $? "sparsify.run alias"
    check_level0_output "$WORK/out" 1
}

case_level_above_zero_np2() {
    # Each level gives a compressed model and a report recording the plan:
    # 0.1 quantizes only, 0.5 prunes to 51%, 1 to 80%.
    for spec in "0.1 false 0" "0.5 true 0.51" "1 true 0.8"; do
        set -- $spec
        lvl=$1 prune=$2 target=$3
        rm -rf "$WORK/out"
        run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case ic --model "$MODEL" --data "$DATA" \
            --optim-level $lvl --output "$WORK/out" --quiet
        expect_code 0 $? "level $lvl"
        [ -s "$WORK/out/model.onnx" ] || fail "level $lvl: no model.onnx"
        cmp -s "$MODEL" "$WORK/out/model.onnx" && fail "level $lvl: the model came back unchanged"
        grep -q "\"prune\": $prune" "$WORK/out/report.json" || fail "level $lvl: report plan.prune is not $prune"
        grep -Eq "\"target_sparsity\": $target" "$WORK/out/report.json" ||
            fail "level $lvl: report target sparsity is not $target"
        grep -q '"compression"' "$WORK/out/report.json" || fail "level $lvl: report lacks the compression section"
    done
    # The default level is 0.5.
    rm -rf "$WORK/out"
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --use-case ic --model "$MODEL" --data "$DATA" --output "$WORK/out" --quiet
    expect_code 0 $? "default level"
    grep -Eq '"resolved": 0.5' "$WORK/out/report.json" || fail "default level is not 0.5"
    # Inputs are validated first: a missing data folder is exit 3, nothing left.
    rm -rf "$WORK/out"
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --use-case ic --model "$MODEL" --data "$WORK/none" --optim-level 0.5 \
        --output "$WORK/out"
    expect_code 3 $? "level 0.5 with missing data"
    [ ! -e "$WORK/out" ] || fail "level 0.5 with missing data left $WORK/out behind"
}

case_bad_sample_np2() {
    mkdir "$WORK/data"
    cp "$DATA"/*.npz "$WORK/data/"
    local last
    last=$(ls "$WORK/data" | sort | tail -1)
    echo "not a zip" >"$WORK/data/$last" # the last sample is rank 1's
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case ic --model "$MODEL" --data "$WORK/data" \
        --optim-level 0 --output "$WORK/out"
    expect_code 3 $? "corrupt sample on rank 1"
    expect_one_error "$WORK/e" "rank 1: .*$last" "corrupt sample on rank 1"
    [ ! -e "$WORK/out" ] || fail "corrupt sample left the output folder"
}

case_output_not_folder() {
    echo x >"$WORK/file"
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case ic --model "$MODEL" --data "$DATA" --optim-level 0 \
        --output "$WORK/file"
    expect_code 6 $? "output is a file"
    expect_one_error "$WORK/e" "--output" "output is a file"
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --use-case ic --model "$MODEL" --data "$DATA" --optim-level 0 \
        --output "$WORK/file/sub"
    expect_code 6 $? "output under a file"
}

case_existing_output_kept() {
    mkdir "$WORK/out"
    echo keep >"$WORK/out/mine.txt"
    mkdir "$WORK/data"
    cp "$DATA"/*.npz "$WORK/data/"
    echo junk >"$WORK/data/$(ls "$WORK/data" | head -1)"
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --use-case ic --model "$MODEL" --data "$WORK/data" --optim-level 0 \
        --output "$WORK/out"
    expect_code 3 $? "bad data, existing output folder"
    [ "$(ls -A "$WORK/out")" = "mine.txt" ] || fail "existing output folder was changed: $(ls -A "$WORK/out")"
    # A good run adds its files beside the user's.
    run "$WORK/o" "$WORK/e" "$BIN" one-shot --use-case ic --model "$MODEL" --data "$DATA" --optim-level 0 \
        --output "$WORK/out"
    expect_code 0 $? "good run into an existing folder"
    [ -f "$WORK/out/mine.txt" ] && cmp -s "$MODEL" "$WORK/out/model.onnx" || fail "existing folder: wrong content"
}

case_custom_use_case() {
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case "receipt ocr" --model "$MODEL" --data "$DATA" \
        --optim-level 0 --output "$WORK/out"
    expect_code 0 $? "custom use case"
    [ "$(grep -c "warn: .*receipt ocr.*not a known use case" "$WORK/e")" -eq 1 ] ||
        { fail "custom use case: expected one warning"; cat "$WORK/e" >&2; }
    "$CHECK" "$WORK/out/report.json" 'use_case.custom=true' 'use_case.requested="receipt ocr"' \
        'use_case.canonical=null' 'use_case.family="custom"' || fail "custom use case: report"
}

case_external_data_np2() {
    # Level 0 copies the external-data files the model references, byte for byte.
    local fx=$SRC/tests/fixtures
    for m in ext_one_file ext_per_tensor; do
        run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case ic --model "$fx/onnx/$m/model.onnx" \
            --data "$fx/cli/data_x4" --optim-level 0 --output "$WORK/$m" --quiet
        expect_code 0 $? "level 0 with external data ($m)"
        for f in $(cd "$fx/onnx/$m" && ls); do
            cmp -s "$fx/onnx/$m/$f" "$WORK/$m/$f" || fail "$m: $f not copied byte for byte"
        done
        "$CHECK" "$WORK/$m/report.json" 'data.samples=2' 'outputs.external_data?=array' || fail "$m: report"
    done
    # A missing external file is an input error, and nothing is written.
    mkdir "$WORK/broken"
    cp "$fx/onnx/ext_per_tensor/model.onnx" "$fx/onnx/ext_per_tensor/W" "$WORK/broken/"
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" one-shot --use-case ic --model "$WORK/broken/model.onnx" \
        --data "$fx/cli/data_x4" --optim-level 0 --output "$WORK/out"
    expect_code 3 $? "missing external file"
    [ "$(error_lines "$WORK/e")" -eq 1 ] || fail "missing external file: not one error line"
    [ ! -e "$WORK/out" ] || fail "missing external file left the output folder"
}

case_run_np2() {
    # One output .npz per sample, the same whether 1 or 2 ranks share the work.
    run "$WORK/o" "$WORK/e" mpi2 "$BIN" run --model "$MODEL" --data "$DATA" --output "$WORK/r2"
    expect_code 0 $? "run on 2 ranks"
    run "$WORK/o" "$WORK/e" "$BIN" run --model "$MODEL" --data "$DATA" --output "$WORK/r1"
    expect_code 0 $? "run on 1 rank"
    [ "$(ls "$WORK/r2" | wc -l)" -eq "$NSAMPLES" ] || fail "run: $(ls "$WORK/r2" | wc -l) outputs for $NSAMPLES samples"
    diff <(cd "$DATA" && ls) <(cd "$WORK/r2" && ls) >/dev/null || fail "run: output names differ from the samples'"
    for f in "$WORK"/r1/*.npz; do
        cmp -s "$f" "$WORK/r2/$(basename "$f")" || { fail "run: $(basename "$f") differs between 1 and 2 ranks"; break; }
    done
}

"case_$1"
exit $FAILED
