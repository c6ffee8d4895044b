#!/bin/bash
# Hostile inputs against the real sparsify binary (issue 7), one group per
# CTest entry:  bash cases.sh GROUP   (onnx npz folders cli checkpoint numerics)
#
# Every case runs `sparsify ... --quiet` under a timeout and asserts: the
# documented exit code (docs/cli.md), not a signal and not the timeout; exactly
# one line on stderr, "sparsify: error: ...", naming the file, key or flag at
# fault; and the case's folder (which holds the output folder) unchanged, so no
# output, temporary or checkpoint file is left behind. Hostile files come from
# make_hostile (C) and plain shell, from the committed tests/models/cnn.
set -u
BIN=${SPARSIFY_BIN:?}
SRC=${SPARSIFY_SOURCE_DIR:?}
GEN=${SPARSIFY_MAKE_HOSTILE:?}
GROUP=${1:?group}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} # singleton Open MPI leaks
# A singleton that starts no orted: 1 s instead of 2.5 s per case.
export OMPI_MCA_ess_singleton_isolated=1

MODEL=$SRC/tests/models/cnn/model.onnx
DATA=$SRC/tests/models/cnn/data
DEMO=$SRC/demo/fashion-cnn
NPZERR=$SRC/tests/fixtures/npz/errors
PAR=${HOSTILE_JOBS:-6} # cases mostly wait for MPI start-up, not the CPU

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sparsify-hostile-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
H=$WORK/gen
mkdir -p "$H" "$WORK/res"
"$GEN" "$H" "$MODEL" "$DATA/sample_0000.npz" || { echo "make_hostile failed" >&2; exit 1; }

# data_with FILE...: a copy of the good data folder plus FILE(s); prints it.
data_with() {
    local d
    d=$(mktemp -d "$WORK/data-XXXXXX")
    cp "$DATA"/*.npz "$d"/
    for f in "$@"; do cp "$f" "$d/"; done
    echo "$d"
}

# Cases that fail because of a bug reported but not yet fixed: reported as
# KNOWN, not failing the group (and as FIXED once they pass). Keep it short.
KNOWN=" "

# one NAME CODE PATTERN ARGS...: one case, run in the background. ARGS is the
# sparsify command line; "@OUT" in it stands for the case's output folder,
# "@DIR" for the case's folder (which holds keep.txt).
# CODE "0w" means: accepted with exactly one warning naming PATTERN, and the
# output written (entries a data folder skips by design).
one() {
    local name=$1 code=$2 pat=$3
    shift 3
    local cdir=$WORK/case/$name
    mkdir -p "$cdir"
    echo keep >"$cdir/keep.txt"
    local args=() a
    for a in "$@"; do a=${a//@OUT/$cdir/out}; args+=("${a//@DIR/$cdir}"); done
    (
        # Its own TMPDIR: concurrent singletons race creating Open MPI's session folder.
        export TMPDIR=$WORK/tmp/$name
        mkdir -p "$TMPDIR"
        before=$(cd "$cdir" && find . | sort)
        timeout -s KILL 60 "$BIN" "${args[@]}" --quiet >"$cdir.stdout" 2>"$cdir.stderr"
        rc=$?
        local kind=error
        if [ "$code" = 0w ]; then
            code=0 kind=warn
            [ -f "$cdir/out/model.onnx" ] && after=$before
        fi
        [ $kind = warn ] || after=$(cd "$cdir" && find . | sort)
        why=""
        if [ $rc -eq 137 ]; then why="timed out (hang)"
        elif [ $rc -gt 128 ]; then why="killed by signal $((rc - 128))"
        elif [ $rc -ne "$code" ]; then why="exit code $rc, expected $code"
        fi
        nl=$(wc -l <"$cdir.stderr")
        [ -z "$why" ] && [ "$nl" -ne 1 ] && why="$nl lines on stderr, expected 1"
        [ -z "$why" ] && ! grep -q "^sparsify: $kind: " "$cdir.stderr" && why="stderr is not 'sparsify: $kind: ...'"
        [ -z "$why" ] && ! grep -qF -- "$pat" "$cdir.stderr" && why="error does not name '$pat'"
        [ -z "$why" ] && [ "$before" != "$after" ] && why="left files behind: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
        if [ -n "$why" ] && [[ $KNOWN == *" $name "* ]]; then
            echo "KNOWN $name: $why" >"$WORK/res/$name"
        elif [ -n "$why" ]; then
            { echo "FAIL $name: $why"; echo "  command: sparsify ${args[*]}"; sed 's/^/  stderr: /' "$cdir.stderr" | head -5; } >"$WORK/res/$name"
        elif [[ $KNOWN == *" $name "* ]]; then
            echo "FIXED $name: remove it from KNOWN in cases.sh" >"$WORK/res/$name"
        else
            echo "ok   $name: $(cat "$cdir.stderr")" >"$WORK/res/$name"
        fi
    ) &
    while [ "$(jobs -rp | wc -l)" -ge "$PAR" ]; do wait -n; done
}

# A model case at level 0.5: level 0 is a byte copy that never compiles the
# graph, a level above 0 must build the engine before calibrating.
model_case() { # NAME CODE PATTERN MODELFILE
    one "$1" "$2" "$3" one-shot -u ic -m "$4" -d "$DATA" -l 0.5 -o @OUT
}
data_case() { # NAME CODE PATTERN DATAFOLDER
    one "$1" "$2" "$3" one-shot -u ic -m "$MODEL" -d "$4" -l 0 -o @OUT
}

group_onnx() {
    head -c 100000 "$MODEL" >"$H/truncated.onnx"
    head -c 1000 "$MODEL" >"$H/truncated_early.onnx"
    : >"$H/empty.onnx"
    echo "this is not a model" >"$H/text.onnx"
    model_case onnx_truncated 3 truncated.onnx "$H/truncated.onnx"
    model_case onnx_truncated_early 3 truncated_early.onnx "$H/truncated_early.onnx"
    model_case onnx_empty 3 empty.onnx "$H/empty.onnx"
    model_case onnx_text 3 text.onnx "$H/text.onnx"
    model_case onnx_random_bytes 3 random.onnx "$H/random.onnx"
    model_case onnx_huge_length 3 huge_length.onnx "$H/huge_length.onnx"
    model_case onnx_deep_nesting 3 "deeper than" "$H/deep_nesting.onnx"
    model_case onnx_nesting_no_graph_content 3 nesting_ok.onnx "$H/nesting_ok.onnx"
    model_case onnx_cycle 3 "/conv1/Conv" "$H/cycle.onnx"
    model_case onnx_dangling_input 3 no_such_tensor "$H/dangling.onnx"
    model_case onnx_duplicate_output 3 "/bn1/BatchNormalization_output_0" "$H/dup_output.onnx"
    model_case onnx_output_unproduced 3 nobody_makes_this "$H/output_unproduced.onnx"
    model_case onnx_init_size_mismatch 3 conv1.weight "$H/init_size.onnx"
    model_case onnx_init_huge_dims 3 conv1.weight "$H/init_huge.onnx"
    model_case onnx_init_negative_dim 3 conv1.weight "$H/init_negative.onnx"
    model_case onnx_init_bad_dtype 4 conv1.weight "$H/init_dtype.onnx"
    model_case onnx_ext_escapes_folder 3 "../../../../../../etc/passwd" "$H/ext_escape.onnx"
    model_case onnx_ext_absolute_path 3 "/etc/passwd" "$H/ext_absolute.onnx"
    model_case onnx_ext_missing_file 3 weights.bin "$H/ext_missing.onnx"
    model_case onnx_ext_short_file 3 short.bin "$H/ext_short.onnx"
    model_case onnx_unsupported_op 4 FrobnicateV2 "$H/unsupported_op.onnx"
    model_case onnx_foreign_domain 4 com.example.secret "$H/foreign_domain.onnx"
    model_case onnx_future_opset 4 9999 "$H/future_opset.onnx"
    model_case onnx_no_graph 3 no_graph.onnx "$H/no_graph.onnx"
    model_case onnx_conv_missing_weight 3 Conv "$H/conv_arity.onnx"
    model_case onnx_bad_attribute 3 group "$H/bad_attr.onnx"
    model_case onnx_duplicate_attribute 3 group "$H/dup_attr.onnx"
    model_case onnx_input_rank_disagrees 3 input "$H/input_rank.onnx"
}

group_npz() {
    local f
    for f in not_a_zip truncated bad_crc shape_too_big shape_too_small shape_overflow shape_negative \
        header_len_huge header_truncated bomb_honest bomb_claims_4g bomb_lies_small duplicate_key object; do
        local code=3
        # The honest bomb names key 'a', not the model's input: refused before
        # it is inflated. The lying one is caught reading past its size.
        case $f in shape_overflow | bomb_claims_4g) code=11 ;; object) code=4 ;; esac
        data_case "npz_$f" $code "$f.npz" "$(data_with "$NPZERR/$f.npz")"
    done
    data_case npz_random_bytes 3 random.npz "$(data_with "$H/random.npz")"
    # A sample whose key does not match the model's input.
    data_case npz_wrong_key 3 "key 'input' is missing" "$(data_with "$NPZERR/../valid/scalars.npz")"
}

group_folders() {
    local d
    d=$(mktemp -d "$WORK/empty-XXXXXX")
    data_case folder_empty 3 "$d" "$d"
    d=$(mktemp -d "$WORK/loop-XXXXXX"); ln -s "$d/b" "$d/a"; ln -s "$d/a" "$d/b"
    data_case folder_symlink_loop 3 "$d/a" "$d/a"
    # Entries of a data folder that are not regular files are skipped with a
    # warning by design (docs/data-format.md); what matters is that none of
    # them is opened: a FIFO would block forever, a loop would fail late.
    d=$(data_with); ln -s loop_x.npz "$d/loop_x.npz"
    data_case folder_sample_symlink_loop 0w loop_x.npz "$d"
    d=$(data_with); mkdir "$d/sub.npz"
    data_case folder_dir_named_npz 0w sub.npz "$d"
    d=$(data_with); mkfifo "$d/fifo.npz"
    data_case folder_fifo_sample 0w fifo.npz "$d"
    data_case folder_data_is_file 3 sample_0000.npz "$DATA/sample_0000.npz"
    data_case folder_missing 3 /nonexistent/data /nonexistent/data
    mkdir -p "$WORK/modeldir"
    model_case folder_model_dir_without_model 3 modeldir "$WORK/modeldir"
    d=$(mktemp -d "$WORK/mloop-XXXXXX"); ln -s "$d/m.onnx" "$d/m.onnx"
    model_case folder_model_symlink_loop 3 m.onnx "$d/m.onnx"
    # Root reads files whatever their mode, so unreadability comes from a
    # dangling symlink to a file that is not there.
    d=$(data_with); ln -s /nonexistent/gone.npz "$d/gone.npz"
    data_case folder_dangling_sample 0w gone.npz "$d"
    # Output folder below a regular file: cannot be created (exit 6).
    one output_under_file 6 keep.txt one-shot -u ic -m "$MODEL" -d "$DATA" -l 0 -o @DIR/keep.txt/out
    # The same, reached through a parent the run creates first: that parent
    # must be removed again.
    one output_parent_left_behind 6 keep.txt one-shot -u ic -m "$MODEL" -d "$DATA" -l 0 -o @OUT/../keep.txt/out
}

group_cli() {
    local base=(one-shot -u ic -m "$MODEL" -d "$DATA" -o @OUT)
    one cli_level_above_one 2 --optim-level "${base[@]}" -l 1.5
    one cli_level_nan 2 --optim-level "${base[@]}" -l nan
    one cli_level_negative 2 --optim-level "${base[@]}" -l -0.1
    one cli_level_trailing 2 --optim-level "${base[@]}" -l 0.5x
    one cli_batch_zero 2 --batch-size "${base[@]}" -l 0 --batch-size 0
    one cli_batch_huge 2 --batch-size "${base[@]}" -l 0 --batch-size 99999999999999999999
    one cli_holdout 2 --holdout "${base[@]}" -l 0 --holdout 0.9
    one cli_ckpt_every_negative 2 --checkpoint-every "${base[@]}" -l 0 --checkpoint-every -1
    one cli_prune_method 2 --prune-method "${base[@]}" -l 0 --prune-method random
    one cli_calib_method 2 --calibration-method "${base[@]}" -l 0 --calibration-method guess
    one cli_log_level 2 --log-level "${base[@]}" -l 0 --log-level loud
    one cli_unknown_flag 2 --frobnicate "${base[@]}" -l 0 --frobnicate
    one cli_missing_value 2 --output one-shot -u ic -m "$MODEL" -d "$DATA" -l 0 --output
    one cli_empty_use_case 2 --use-case one-shot -u "" -m "$MODEL" -d "$DATA" -l 0 -o @OUT
    one cli_control_char_use_case 2 --use-case one-shot -u $'ic\x01' -m "$MODEL" -d "$DATA" -l 0 -o @OUT
    one cli_missing_model 2 --model one-shot -u ic -d "$DATA" -l 0 -o @OUT
    one cli_positional 2 stray one-shot -u ic -m "$MODEL" -d "$DATA" -o @OUT stray
    one cli_unknown_command 2 frobnicate frobnicate --model "$MODEL"
    one cli_run_threads 2 --threads run -m "$MODEL" -d "$DATA" -o @OUT --threads -3
}

# make_ckpt OUT: a real checkpoint of the demo model in OUT/checkpoint.h5,
# taken by asking a run to stop (SIGTERM) once its first checkpoint exists.
make_ckpt() {
    local out=$1 i
    "$BIN" one-shot -u ic -m "$DEMO/model.onnx" -d "$DEMO/data" -l 0.5 -o "$out" -q --batch-size 1 \
        --checkpoint-every 2 >/dev/null 2>&1 &
    local pid=$!
    for i in $(seq 600); do [ -f "$out/checkpoint.h5" ] && break; sleep 0.05; done
    kill -TERM $pid 2>/dev/null
    wait $pid
}

group_checkpoint() {
    local good=$WORK/good_ckpt
    make_ckpt "$good"
    mkdir -p "$WORK/ck"
    local base=(one-shot -u ic -m "$DEMO/model.onnx" -d "$DEMO/data" -l 0.5 --batch-size 1 -o @OUT)
    cp "$H/random_checkpoint.h5" "$WORK/ck/checkpoint.h5"
    one ckpt_random_bytes 9 checkpoint.h5 "${base[@]}" --resume "$WORK/ck/checkpoint.h5"
    mkdir -p "$WORK/ck2"
    : >"$WORK/ck2/checkpoint.h5"
    one ckpt_empty 9 checkpoint.h5 "${base[@]}" --resume "$WORK/ck2/checkpoint.h5"
    # A missing --resume file is a checkpoint that cannot be read (9).
    one ckpt_missing 9 nothere.h5 "${base[@]}" --resume "$WORK/nothere.h5"
    mkdir -p "$WORK/ck3"
    one ckpt_folder_without_checkpoint 9 ck3 "${base[@]}" --resume "$WORK/ck3"
    if [ ! -f "$good/checkpoint.h5" ]; then
        echo "FAIL ckpt_*: no checkpoint from a run stopped by SIGTERM ($(ls "$good" 2>&1))" >"$WORK/res/ckpt_make"
        return
    fi
    one ckpt_other_model 9 checkpoint.h5 one-shot -u ic -m "$MODEL" -d "$DATA" -l 0.5 --batch-size 1 -o @OUT \
        --resume "$good/checkpoint.h5"
    one ckpt_other_settings 9 checkpoint.h5 "${base[@]}" --resume "$good/checkpoint.h5" --holdout 0.1
    local sz
    sz=$(stat -c %s "$good/checkpoint.h5")
    mkdir -p "$WORK/ck4" "$WORK/ck5" "$WORK/ck6"
    head -c $((sz / 2)) "$good/checkpoint.h5" >"$WORK/ck4/checkpoint.h5"
    one ckpt_truncated 9 checkpoint.h5 "${base[@]}" --resume "$WORK/ck4/checkpoint.h5"
    head -c 600 "$good/checkpoint.h5" >"$WORK/ck6/checkpoint.h5"
    one ckpt_truncated_superblock 9 checkpoint.h5 "${base[@]}" --resume "$WORK/ck6/checkpoint.h5"
    # The file on which fuzz_ckpt found HDF5 reading past a buffer.
    one ckpt_hdf5_overread 9 "superblock version 0" "${base[@]}" \
        --resume "$SRC/tests/fuzz/crashers/ckpt/ckpt-hdf5-attr-name-overflow.h5"
    # A directory named checkpoint.h5.
    mkdir -p "$WORK/ck7/checkpoint.h5"
    one ckpt_is_folder 9 checkpoint.h5 "${base[@]}" --resume "$WORK/ck7/checkpoint.h5"
}

# Numerics (issue 7, part 5): samples whose values are NaN/Inf, all zero (a
# singular Hessian) or one constant (a zero range). The run must not crash,
# must warn about non-finite values, and the compressed model must hold only
# finite numbers. Until the CLI compresses (exit 5), the model comes from the
# compression core through tests/compress/compress_tool.
group_numerics() {
    local k
    for k in nan inf zeros const; do
        (
            local d=$WORK/num_$k cdir=$WORK/case/num_$k
            mkdir -p "$d" "$cdir" "$WORK/tmp/num_$k"
            export TMPDIR=$WORK/tmp/num_$k
            for i in 0 1 2 3; do cp "$H/$k.npz" "$d/s$i.npz"; done
            timeout -s KILL 120 "$BIN" one-shot -u ic -m "$MODEL" -d "$d" -l 0.5 -o "$cdir/out" -q \
                >"$cdir.stdout" 2>"$cdir.stderr"
            rc=$?
            why="" model=""
            if [ $rc -eq 0 ]; then model=$cdir/out/model.onnx
            elif [ $rc -eq 5 ] && [ -n "${SPARSIFY_COMPRESS_TOOL:-}" ]; then
                model=$cdir/tool.onnx
                timeout -s KILL 120 "$SPARSIFY_COMPRESS_TOOL" "$MODEL" "$d" "$model" 0.5 >>"$cdir.stdout" 2>>"$cdir.stderr" \
                    || why="compress_tool failed with $?"
            else why="exit code $rc, expected 0 (or 5 until the CLI compresses)"
            fi
            case $k in nan | inf)
                grep -q "warn.*NaN.*Inf" "$cdir.stderr" || why="${why:-no warning about NaN/Inf values}" ;;
            esac
            if [ -z "$why" ] && [ -n "$model" ]; then
                "$GEN" --scan-finite "$model" >>"$cdir.stdout" 2>>"$cdir.stderr" || why="non-finite values in $model"
            fi
            if [ -n "$why" ]; then
                { echo "FAIL num_$k: $why"; sed 's/^/  stderr: /' "$cdir.stderr" | tail -5; } >"$WORK/res/num_$k"
            else
                echo "ok   num_$k: $(tail -1 "$cdir.stdout")" >"$WORK/res/num_$k"
            fi
        ) &
    done
}

group_"$GROUP"
wait
cat "$WORK"/res/* | sort
n=$(ls "$WORK/res" | wc -l)
bad=$(grep -l '^FAIL' "$WORK"/res/* 2>/dev/null | wc -l)
echo "hostile $GROUP: $n cases, $bad failed"
[ "$bad" -eq 0 ] && [ "$n" -gt 0 ]
