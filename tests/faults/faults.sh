#!/bin/bash
# Fault injection against the real sparsify binary (issue 7, part 4), one case
# per CTest entry:  bash faults.sh CASE
#   kill_rank        SIGKILL of rank 1 at a random point of calibration (np 2)
#   kill_rank0_ckpt  SIGKILL of rank 0 while it writes a checkpoint: the
#                    moment its temporary file appears in the output folder
#   disk_full        output folder on a 64 KiB tmpfs
#   read_only        output folder on a read-only tmpfs
# A killed run must end (no hang), the last good checkpoint must survive and
# --resume must give a model byte-identical (cmp) to an uninterrupted run.
# The failing-output runs must stop with one error line and exit 6, leaving
# nothing behind. Mounting needs root and a kernel that allows it: otherwise
# those two cases print why and exit 77 (CTest: skipped).
set -u
BIN=${SPARSIFY_BIN:?}
SRC=${SPARSIFY_SOURCE_DIR:?}
MPIEXEC=${SPARSIFY_MPIEXEC:-mpirun}
NP=${SPARSIFY_NP_FLAG:--np}
CASE=${1:?case}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
DEMO=$SRC/demo/fashion-cnn
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sparsify-faults-XXXXXX")
# The demo's 64 samples copied 8 times: a run long enough (256 groups) that a
# kill lands inside calibration even on a fast, idle machine.
mkdir -p "$WORK/data"
for k in 0 1 2 3 4 5 6 7; do
    for f in "$DEMO"/data/*.npz; do cp -p "$f" "$WORK/data/r${k}_$(basename "$f")"; done
done
FLAGS=(one-shot -u ic -m "$DEMO/model.onnx" -d "$WORK/data" -l 0.5 --batch-size 2 --checkpoint-every 2 -q)

MNT=""
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL $CASE: $*" >&2; exit 1; }

# reference: the model an uninterrupted run writes (np 2).
reference() {
    timeout -s KILL 300 "$MPIEXEC" "$NP" 2 "$BIN" "${FLAGS[@]}" -o "$WORK/ref" >"$WORK/ref.log" 2>&1 ||
        fail "uninterrupted run failed: $(tail -3 "$WORK/ref.log")"
    [ -f "$WORK/ref/model.onnx" ] || fail "uninterrupted run wrote no model"
}

# rank_pid MPIRUN_PID RANK: the pid of that rank (a child of mpirun).
rank_pid() {
    local c
    for c in $(pgrep -P "$1"); do
        if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$c"
            return
        fi
    done
}

# resume_and_compare OUT: resumes from OUT/checkpoint.h5 into OUT2 and cmps.
resume_and_compare() {
    local out=$1
    [ -f "$out/checkpoint.h5" ] || fail "no checkpoint survived in $out ($(ls -a "$out" 2>&1 | tr '\n' ' '))"
    timeout -s KILL 300 "$MPIEXEC" "$NP" 2 "$BIN" "${FLAGS[@]}" -o "$WORK/resumed" --resume "$out/checkpoint.h5" \
        >"$WORK/resume.log" 2>&1 || fail "--resume failed: $(grep -m3 error "$WORK/resume.log")"
    cmp "$WORK/ref/model.onnx" "$WORK/resumed/model.onnx" || fail "resumed model differs from the uninterrupted one"
    echo "ok $CASE: resumed from $(grep -m1 -o 'pass [0-9], [0-9]* of [0-9]* groups done' "$WORK/resume.log" 2>/dev/null \
        || echo 'a checkpoint'); model byte-identical"
}

# run_killed RANK WHEN: starts a 2-rank run and SIGKILLs rank RANK when
# WHEN says so ("ckpt+DELAY": DELAY s after the first checkpoint exists;
# "tmpfile": as soon as a temporary checkpoint file appears after the first
# checkpoint). Checks the run ends by itself within 60 s.
run_killed() {
    local rank=$1 when=$2 out=$WORK/out
    "$MPIEXEC" "$NP" 2 "$BIN" "${FLAGS[@]}" -o "$out" >"$WORK/killed.log" 2>&1 &
    local mp=$! i pid="" hit=""
    for i in $(seq 2000); do
        [ -f "$out/checkpoint.h5" ] && break
        kill -0 $mp 2>/dev/null || fail "run ended before its first checkpoint"
        sleep 0.01
    done
    [ -f "$out/checkpoint.h5" ] || fail "no first checkpoint within 20 s"
    pid=$(rank_pid $mp "$rank")
    [ -n "$pid" ] || fail "cannot find rank $rank's process"
    case $when in
    ckpt+*) sleep "${when#ckpt+}"; hit="at a random point ${when#ckpt+} s after the first checkpoint" ;;
    tmpfile)
        # Polls tightly; rank 0 writes a checkpoint every 2 groups.
        for i in $(seq 200000); do
            if compgen -G "$out/.checkpoint*" >/dev/null || compgen -G "$out/*tmp*" >/dev/null; then
                hit="while a temporary checkpoint file existed ($(ls -a "$out" | grep -v '^\.\.\?$' | tr '\n' ' '))"
                break
            fi
            kill -0 "$pid" 2>/dev/null || break
        done
        [ -n "$hit" ] || fail "never saw a checkpoint being written"
        ;;
    esac
    if ! kill -KILL "$pid" 2>/dev/null; then
        # The run finished before the kill landed: nothing was tested.
        wait $mp
        echo "rank $rank ended before the kill; retrying"
        return 2
    fi
    local t0=$SECONDS
    for i in $(seq 600); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done
    if kill -0 $mp 2>/dev/null; then
        kill -KILL $mp
        fail "mpirun still running 60 s after rank $rank was killed (hang)"
    fi
    wait $mp
    local rc=$?
    [ $rc -ne 0 ] || fail "run reported success although rank $rank was killed"
    echo "killed rank $rank $hit; mpirun ended in $((SECONDS - t0)) s with code $rc"
}

# mount_tmpfs OPTS: a tmpfs at $WORK/mnt, or exit 77 with the reason.
mount_tmpfs() {
    MNT=$WORK/mnt
    mkdir -p "$MNT"
    if ! mount -t tmpfs -o "$1" tmpfs "$MNT" 2>"$WORK/mount.err"; then
        MNT=""
        echo "SKIP $CASE: cannot mount a tmpfs: $(cat "$WORK/mount.err")"
        exit 77
    fi
}

# output_failure: a single-rank run into $1 must exit 6 with one error line
# naming the output, and leave the folder as it was.
output_failure() {
    local dir=$1 out=$2
    local before after
    before=$(cd "$dir" && find . | sort)
    OMPI_MCA_ess_singleton_isolated=1 timeout -s KILL 120 "$BIN" "${FLAGS[@]}" -o "$out" >"$WORK/o.log" 2>"$WORK/e.log"
    local rc=$?
    after=$(cd "$dir" && find . | sort)
    [ $rc -eq 6 ] || fail "exit code $rc, expected 6: $(cat "$WORK/e.log")"
    [ "$(grep -c . "$WORK/e.log")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$WORK/e.log")"
    grep -q "^sparsify: error: .*$out" "$WORK/e.log" || fail "error does not name $out: $(cat "$WORK/e.log")"
    [ "$2" != "" ] && ! grep -q -- "$3" "$WORK/e.log" && fail "error does not say '$3': $(cat "$WORK/e.log")"
    [ "$before" = "$after" ] || fail "left behind: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
    echo "ok $CASE: $(cat "$WORK/e.log")"
}

case $CASE in
kill_rank)
    reference
    for attempt in 1 2 3; do
        rm -rf "$WORK/out"
        # A random delay first; on retries kill right after the first checkpoint.
        delay="0.$((RANDOM % 9))"
        [ $attempt -gt 1 ] && delay=0
        run_killed 1 "ckpt+$delay" && break
        [ $attempt -lt 3 ] || fail "every run ended before rank 1 could be killed"
    done
    resume_and_compare "$WORK/out"
    ;;
kill_rank0_ckpt)
    reference
    for attempt in 1 2 3; do
        rm -rf "$WORK/out"
        run_killed 0 tmpfile && break
        [ $attempt -lt 3 ] || fail "every run ended before rank 0 could be killed"
    done
    # The interrupted write must not have replaced the last good checkpoint.
    resume_and_compare "$WORK/out"
    ;;
disk_full)
    mount_tmpfs size=64k
    echo keep >"$MNT/keep.txt"
    output_failure "$MNT" "$MNT/out" "No space left on device"
    ;;
read_only)
    mount_tmpfs size=1m
    echo keep >"$MNT/keep.txt"
    mount -o remount,ro "$MNT" || { echo "SKIP $CASE: cannot remount read-only"; exit 77; }
    output_failure "$MNT" "$MNT/out" "Read-only"
    ;;
*) fail "unknown case" ;;
esac
