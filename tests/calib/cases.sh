#!/bin/bash
# MPI tests of calibration (registered by tests/calib.cmake). Each case runs
# tests/calib/calib_run.c (or the sparsify binary) under mpirun and compares
# the statistics digests, which cover every merged bit (names, ranges,
# histograms, Hessians): equal digests mean bit-identical statistics.
set -u
case_name=$1
SRC=${SPARSIFY_SOURCE_DIR:?}
RUN=${SPARSIFY_CALIB_RUN:?}
MPI=${SPARSIFY_MPIEXEC:-mpirun}
NPF=${SPARSIFY_NP_FLAG:--np}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CNN=$SRC/demo/fashion-cnn
BERT=$SRC/tests/models/bert_tiny

fail() { echo "FAIL: $*"; exit 1; }
# digest NP ARGS...: prints the digest of one run, or fails the test.
digest() {
    local np=$1; shift
    local out
    out=$("$MPI" $NPF "$np" "$RUN" "$@" 2>"$TMP/err") || { cat "$TMP/err"; fail "calib_run -np $np $* exited $?"; }
    local d
    d=$(echo "$out" | awk '/^digest /{print $2}')
    [ -n "$d" ] || fail "no digest from -np $np $*"
    echo "$d"
}
# A data set of 4 copies of the demo samples (256), for runs long enough to kill.
big_data() {
    mkdir -p "$TMP/big"
    for k in 0 1 2 3; do
        for f in "$CNN"/data/*.npz; do cp -p "$f" "$TMP/big/c${k}_$(basename "$f")"; done
    done
}

case $case_name in
ranks_cnn)
    ref=$(digest 1 "$CNN/model.onnx" "$CNN/data" --prune --batch 3 --holdout 0.05)
    for np in 2 3 4; do
        d=$(digest $np "$CNN/model.onnx" "$CNN/data" --prune --batch 3 --holdout 0.05)
        [ "$d" = "$ref" ] || fail "np=$np digest $d differs from np=1 $ref"
    done
    # More ranks than groups: 2 groups on 4 ranks.
    a=$(digest 1 "$CNN/model.onnx" "$CNN/data" --prune --batch 40)
    b=$(digest 4 "$CNN/model.onnx" "$CNN/data" --prune --batch 40)
    [ "$a" = "$b" ] || fail "idle ranks changed the digest"
    # A different batch size is a different computation: the digest must change.
    [ "$a" != "$ref" ] || fail "digest does not depend on the statistics"
    ;;
ranks_bert)
    ref=$(digest 1 "$BERT/model.onnx" "$BERT/data" --prune --batch 1)
    for np in 2 3 4; do
        d=$(digest $np "$BERT/model.onnx" "$BERT/data" --prune --batch 1)
        [ "$d" = "$ref" ] || fail "np=$np digest differs on bert_tiny"
    done
    # Q, K and V read the same tensor: fewer Hessians than layers.
    out=$("$RUN" "$BERT/model.onnx" "$BERT/data" --prune --batch 1 2>/dev/null)
    l=$(echo "$out" | sed -n 's/.* layers \([0-9]*\) hessians \([0-9]*\).*/\1/p')
    h=$(echo "$out" | sed -n 's/.* layers \([0-9]*\) hessians \([0-9]*\).*/\2/p')
    [ -n "$l" ] && [ "$h" -lt "$l" ] || fail "expected shared Hessians on bert_tiny, got $l layers, $h Hessians"
    ;;
intervals)
    ref=$(digest 1 "$CNN/model.onnx" "$CNN/data" --prune --batch 4)
    for k in 1 5; do
        for np in 2 3; do
            [ $k = 5 ] && [ $np = 2 ] && continue
            d=$(digest $np "$CNN/model.onnx" "$CNN/data" --prune --batch 4 --every $k --ckpt "$TMP/ck.h5")
            [ "$d" = "$ref" ] || fail "np=$np --every $k changed the digest"
        done
    done
    command -v h5dump >/dev/null && { h5dump -H "$TMP/ck.h5" >/dev/null || fail "h5dump cannot read the checkpoint"; }
    ;;
interrupt_resume)
    ref=$(digest 1 "$CNN/model.onnx" "$CNN/data" --prune --batch 2)
    "$MPI" $NPF 2 "$RUN" "$CNN/model.onnx" "$CNN/data" --prune --batch 2 --every 3 --ckpt "$TMP/ck.h5" \
        --stop-after-samples 20 >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 21 ] || { cat "$TMP/err"; fail "interrupted run exited $rc, expected 21 (10 + SP_ERR_INTERRUPTED)"; }
    grep -q "interrupted" "$TMP/err" || fail "no interruption message"
    [ -f "$TMP/ck.h5" ] || fail "no checkpoint after the interruption"
    d=$(digest 3 "$CNN/model.onnx" "$CNN/data" --prune --batch 2 --every 4 --ckpt "$TMP/ck.h5" --resume "$TMP/ck.h5")
    [ "$d" = "$ref" ] || fail "resumed digest $d differs from $ref"
    # Resuming a finished checkpoint gives the same statistics again.
    d=$(digest 1 "$CNN/model.onnx" "$CNN/data" --prune --batch 2 --resume "$TMP/ck.h5")
    [ "$d" = "$ref" ] || fail "resume from a finished checkpoint differs"
    ;;
kill_resume)
    big_data
    ref=$(digest 2 "$CNN/model.onnx" "$TMP/big" --prune --batch 2)
    "$MPI" $NPF 2 "$RUN" "$CNN/model.onnx" "$TMP/big" --prune --batch 2 --every 1 --ckpt "$TMP/ck.h5" \
        >"$TMP/out" 2>"$TMP/err" &
    mp=$!
    for i in $(seq 1 200); do [ -f "$TMP/ck.h5" ] && break; sleep 0.05; done
    [ -f "$TMP/ck.h5" ] || fail "no checkpoint appeared"
    sleep 0.3
    victim=$(pgrep -P $mp | tail -1)
    [ -n "$victim" ] || fail "run finished before a rank could be killed (make the data set larger)"
    kill -9 "$victim"
    wait $mp
    rc=$?
    [ $rc -ne 0 ] || fail "killed run exited 0"
    ls "$TMP"/.ck.h5.tmp-* >/dev/null 2>&1 && echo "note: a temporary checkpoint was left (expected after SIGKILL)"
    d=$(digest 3 "$CNN/model.onnx" "$TMP/big" --prune --batch 2 --every 7 --ckpt "$TMP/ck.h5" --resume "$TMP/ck.h5")
    [ "$d" = "$ref" ] || fail "digest after kill + resume $d differs from $ref"
    grep -q "resumed 1" <("$RUN" "$CNN/model.onnx" "$TMP/big" --prune --batch 2 --resume "$TMP/ck.h5" 2>/dev/null) ||
        fail "the final checkpoint does not resume"
    ;;
bad_checkpoint)
    "$RUN" "$CNN/model.onnx" "$CNN/data" --prune --batch 4 --ckpt "$TMP/ck.h5" >/dev/null 2>&1 || fail "reference run failed"
    expect_refused() { # what FILE ARGS...
        local what=$1 file=$2; shift 2
        "$MPI" $NPF 2 "$RUN" "$@" --resume "$file" >"$TMP/out" 2>"$TMP/err"
        local rc=$?
        [ $rc -eq $((10 + 10)) ] || { cat "$TMP/err"; fail "$what: exit $rc, expected 20 (10 + SP_ERR_CHECKPOINT)"; }
        grep -q "$file" "$TMP/err" || fail "$what: message does not name the file"
        [ "$(grep -c 'error:' "$TMP/err")" -eq 1 ] || fail "$what: expected exactly one error line"
        grep -qi "segmentation\|HDF5-DIAG" "$TMP/err" && fail "$what: crash or HDF5 error stack"
        cat "$TMP/err"
    }
    head -c 2000 "$TMP/ck.h5" >"$TMP/trunc.h5"
    expect_refused "truncated" "$TMP/trunc.h5" "$CNN/model.onnx" "$CNN/data" --prune --batch 4
    grep -q "corrupt checkpoint" "$TMP/err" || fail "truncated: message does not say corrupt"
    head -c 100000 /dev/urandom >"$TMP/random.h5"
    expect_refused "garbage" "$TMP/random.h5" "$CNN/model.onnx" "$CNN/data" --prune --batch 4
    expect_refused "missing" "$TMP/none.h5" "$CNN/model.onnx" "$CNN/data" --prune --batch 4
    expect_refused "settings" "$TMP/ck.h5" "$CNN/model.onnx" "$CNN/data" --prune --batch 5
    grep -q "batch-size" "$TMP/err" || fail "settings: message does not name --batch-size"
    expect_refused "level" "$TMP/ck.h5" "$CNN/model.onnx" "$CNN/data" --batch 4
    mkdir -p "$TMP/other"; cp -p "$CNN"/data/*.npz "$TMP/other/"; rm "$TMP/other/sample_0005.npz"
    expect_refused "data" "$TMP/ck.h5" "$CNN/model.onnx" "$TMP/other" --prune --batch 4
    grep -q "data list" "$TMP/err" || fail "data: message does not name the data list"
    # Another model with the same inputs: bert_tiny at opset 14 vs 17.
    "$RUN" "$SRC/tests/models/bert_tiny_op17/model.onnx" "$BERT/data" --prune --batch 1 --ckpt "$TMP/bert.h5" \
        >/dev/null 2>&1 || fail "bert_tiny_op17 reference run failed"
    expect_refused "model" "$TMP/bert.h5" "$BERT/model.onnx" "$BERT/data" --prune --batch 1
    grep -q "the model" "$TMP/err" || fail "model: message does not name the model"
    ;;
cli_resume)
    BIN=${SPARSIFY_BIN:?}
    big_data
    out=$TMP/out1
    "$MPI" $NPF 2 "$BIN" one-shot --use-case image_classification --model "$CNN/model.onnx" --data "$TMP/big" --optim-level 0.5 --batch-size 2 \
        --output "$out" --quiet 2>"$TMP/ref.err"
    rc=$?
    # Whether compression is plugged in or not, a failed run leaves nothing.
    [ $rc -eq 0 ] || [ ! -e "$out" ] || { cat "$TMP/ref.err"; fail "a failed run (rc $rc) left its output folder"; }
    rm -rf "$out"
    "$MPI" $NPF 2 "$BIN" one-shot --use-case image_classification --model "$CNN/model.onnx" --data "$TMP/big" --optim-level 0.5 --batch-size 2 \
        --output "$out" --log-level info 2>"$TMP/ref.err"
    rm -rf "$out"
    ref=$(awk '/calibration digest/{print $NF}' "$TMP/ref.err")
    [ -n "$ref" ] || { cat "$TMP/ref.err"; fail "no calibration digest logged"; }
    "$MPI" $NPF 2 "$BIN" one-shot --use-case image_classification --model "$CNN/model.onnx" --data "$TMP/big" --optim-level 0.5 --batch-size 2 \
        --output "$out" --checkpoint-every 1 2>"$TMP/run.err" &
    mp=$!
    for i in $(seq 1 200); do [ -f "$out/checkpoint.h5" ] && break; sleep 0.05; done
    sleep 0.3
    victim=$(pgrep -P $mp | tail -1)
    [ -n "$victim" ] || fail "run finished before a rank could be killed"
    kill -9 "$victim"
    wait $mp
    [ -f "$out/checkpoint.h5" ] || fail "the checkpoint did not survive the kill"
    "$MPI" $NPF 3 "$BIN" one-shot --use-case image_classification --model "$CNN/model.onnx" --data "$TMP/big" --optim-level 0.5 --batch-size 2 \
        --output "$out" --resume "$out" 2>"$TMP/res.err"
    d=$(awk '/calibration digest/{print $NF}' "$TMP/res.err")
    [ "$d" = "$ref" ] || { cat "$TMP/res.err"; fail "CLI resume digest '$d' differs from '$ref'"; }
    grep -q "resuming from" "$TMP/res.err" || fail "no resume message"
    [ -f "$out/checkpoint.h5" ] || fail "a checkpoint the user resumed from was deleted"
    ;;
*)
    fail "unknown case $case_name"
    ;;
esac
echo "PASS: $case_name"
