#!/bin/bash
# The Slurm batch scripts on a real, single-node Slurm: this test starts munge,
# slurmctld and slurmd from Debian's packages (as root, with a configuration
# generated for this host), submits slurm/sparsify-oneshot.sbatch and checks
# what cluster users rely on:
#   1. a 2-task job (srun --mpi=pmix, then mpirun) on the demo completes with
#      exit code 0 and the expected output;
#   2. the sweep template (a 2-task job array) and a job depending on it;
#   3. a job stopped by the warning signal (scancel --signal=USR1 --batch, what
#      --signal=B:USR1@N sends before the time limit) checkpoints, exits 8,
#      requeues itself, resumes, and ends with a model identical (cmp) to an
#      uninterrupted run's: the real sparsify at level 0.5 on the demo's
#      samples repeated. With calibration but no compression in the build
#      (level 0.5 exits 5) the calibration digests are compared instead;
#   4. a stand-in that behaves like sparsify on a signal checks the script's
#      forwarding/requeue/resume logic under mpirun (and srun too when the
#      build has no calibration to stop).
# Every daemon it started is stopped on exit; every wait has a deadline.
# Exit 77 (CTest skip) when the Slurm packages are missing or not root.
#
# Environment (set by CTest): SPARSIFY_BIN, SPARSIFY_SOURCE_DIR, SPARSIFY_BUILD_DIR.
set -u

SKIP=77
BIN=${SPARSIFY_BIN:?SPARSIFY_BIN not set}
SRC=${SPARSIFY_SOURCE_DIR:?SPARSIFY_SOURCE_DIR not set}
BUILD=${SPARSIFY_BUILD_DIR:?SPARSIFY_BUILD_DIR not set}
SCRIPT=$BUILD/slurm/sparsify-oneshot.sbatch
JOB_TIMEOUT=${SLURM_TEST_JOB_TIMEOUT:-90}

for tool in munged munge unmunge slurmctld slurmd sbatch squeue scontrol scancel sinfo srun; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "SKIP: $tool not found (install slurmctld slurmd slurm-client munge)"
    exit $SKIP
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: starting slurmd needs root"
  exit $SKIP
fi
PATH=$PATH:/usr/sbin

T=$(mktemp -d /tmp/sparsify-slurm.XXXXXX)
chmod 755 "$T"
HOST=$(hostname -s)
started_munge=
ctld_pid=
slurmd_pid=
failed=0

say() { echo "[slurm-test $(date +%H:%M:%S)] $*"; }
fail() { say "FAIL: $*"; failed=1; exit 1; }

cleanup() {
  local rc=$?
  # Stop jobs first so that no step outlives the daemons.
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    scancel --quiet --user=root >/dev/null 2>&1
    for _ in $(seq 100); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for p in "$slurmd_pid" "$ctld_pid"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null
  done
  for p in "$slurmd_pid" "$ctld_pid"; do
    [ -z "$p" ] && continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ -n "$started_munge" ] && [ -f "$T/munge/munged.pid" ]; then
    mp=$(cat "$T/munge/munged.pid")
    kill "$mp" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$mp" 2>/dev/null
  fi
  if [ "$rc" != 0 ] || [ "$failed" != 0 ]; then
    for f in "$T"/slurmctld.log "$T"/slurmd.log "$T"/*.out; do
      [ -f "$f" ] || continue
      echo "---- $f (last 40 lines)"
      tail -n 40 "$f"
    done
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.2
  done
}

# ---- munge -------------------------------------------------------------------
munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
  if [ ! -f /etc/munge/munge.key ]; then
    say "generating /etc/munge/munge.key"
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown -R munge:munge /etc/munge
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  mkdir -p "$T/munge" && chown munge:munge "$T/munge"
  runuser -u munge -- munged --pid-file="$T/munge/munged.pid" 2>"$T/munged.err" ||
    { cat "$T/munged.err"; fail "munged did not start"; }
  started_munge=1
  wait_for 10 munge_ok || fail "munge does not answer"
fi

# ---- slurm.conf for this host ------------------------------------------------
# Ports from the PID so a leftover daemon of an aborted run cannot collide.
port=$((20000 + ($$ % 15000) * 2))
mkdir -p "$T/state" "$T/spool"
cat >"$T/slurm.conf" <<EOF
ClusterName=sparsifytest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
MpiDefault=none
JobRequeue=1
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf

slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.stdout" 2>&1 &
ctld_pid=$!
slurmd -D -N "$HOST" -f "$SLURM_CONF" >"$T/slurmd.stdout" 2>&1 &
slurmd_pid=$!
node_idle() { sinfo -h -n "$HOST" -o %T | grep -qx idle; }
wait_for 30 node_idle || { cat "$T"/slurm*.stdout; fail "node $HOST never became idle"; }
say "single-node Slurm up on $HOST (ports $port/$((port + 1)))"

# ---- helpers -----------------------------------------------------------------
# submit NAME [sbatch flags...] -- prints the job id.
submit() {
  local name=$1
  shift
  sbatch --parsable --job-name="$name" --chdir="$T" --output="$T/$name.out" "$@" "$SCRIPT"
}
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
# wait_job ID: waits until the job is finished (not pending/running/requeued...).
wait_job() {
  local id=$1 end=$((SECONDS + JOB_TIMEOUT)) st
  while :; do
    st=$(job_field "$id" JobState)
    case $st in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) break ;;
    esac
    # Slurm makes a requeued job eligible only ~2 minutes after the requeue;
    # a test need not wait for that (on a cluster the queue wait dominates).
    if [ "$st" = PENDING ] && [ "$(job_field "$id" Reason)" = BeginTime ] &&
      [ "$(job_field "$id" Restarts)" -ge 1 ]; then
      scontrol update JobId="$id" StartTime=now >/dev/null 2>&1
    fi
    if [ "$SECONDS" -ge "$end" ]; then
      scontrol show job "$id"
      scancel "$id"
      fail "job $id still $st after ${JOB_TIMEOUT}s"
    fi
    sleep 0.3
  done
}
expect_done() {
  local id=$1 name=$2 st ec
  st=$(job_field "$id" JobState)
  ec=$(job_field "$id" ExitCode)
  [ "$st" = COMPLETED ] && [ "$ec" = 0:0 ] ||
    { cat "$T/$name.out"; fail "$name: job $id ended $st with exit code $ec, expected COMPLETED 0:0"; }
}

export SPARSIFY=$BIN
export SPARSIFY_ZOO=$SRC/demo
export SPARSIFY_MODEL=fashion-cnn SPARSIFY_DATA=fashion-cnn SPARSIFY_USE_CASE=image_classification
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
demo_model=$SRC/demo/fashion-cnn/model.onnx

# ---- 1. plain jobs at level 0, srun and mpirun -------------------------------
for launcher in srun mpirun; do
  name=level0-$launcher
  id=$(SPARSIFY_LEVEL=0 SPARSIFY_OUTPUT=$T/$name SPARSIFY_LAUNCHER=$launcher submit "$name" --ntasks=2) ||
    fail "sbatch refused $name"
  wait_job "$id"
  expect_done "$id" "$name"
  cmp -s "$demo_model" "$T/$name/model.onnx" || fail "$name: model.onnx is not the byte copy level 0 promises"
  [ -s "$T/$name/report.json" ] || fail "$name: no report.json"
  grep -q "64 samples, 2 ranks" "$T/$name.out" || { cat "$T/$name.out"; fail "$name: sparsify did not run on 2 ranks"; }
  grep -q "OPENBLAS_NUM_THREADS\|ranks x 1 CPUs" "$T/$name.out" || fail "$name: job log lacks the script's header"
  say "ok: $name (job $id)"
done

# ---- which levels work? --------------------------------------------------------
OPENBLAS_NUM_THREADS=1 timeout 120 "$BIN" one-shot --use-case image_classification --model fashion-cnn \
  --data fashion-cnn --optim-level 0.5 --output "$T/probe" >"$T/probe.log" 2>&1
probe=$?
# 0: calibration and compression; 5 after a calibration digest: calibration
# only; 5 without one: neither.
compress= calib=
case $probe in
  0) compress=1 calib=1 ;;
  5) grep -q "calibration digest" "$T/probe.log" && calib=1 ;;
  *) cat "$T/probe.log"; fail "probe at level 0.5 exited $probe (expected 0, or 5 = not implemented)" ;;
esac

wait_file() { [ -e "$1" ]; }

# ---- the sweep template: a 2-task array, then a job that depends on it ---------
levels="0 0.0"
[ -n "$compress" ] && levels="0 0.5"
sweep=$(SPARSIFY_LEVELS=$levels SPARSIFY_SWEEP_DIR=$T/sweep SPARSIFY_ONESHOT_SCRIPT=$SCRIPT \
  sbatch --parsable --chdir="$T" --output="$T/sweep-%a.out" --array=0-1 --ntasks=1 \
  "$BUILD/slurm/sparsify-sweep.sbatch") || fail "sbatch refused the sweep"
after=$(sbatch --parsable --chdir="$T" --output="$T/after.out" --ntasks=1 --dependency=afterok:"$sweep" \
  --wrap "ls $T/sweep/level-*/model.onnx | wc -l > $T/after.count") || fail "sbatch refused the dependent job"
for a in 0 1; do
  wait_job "${sweep}_$a"
  st=$(job_field "${sweep}_$a" JobState)
  [ "$st" = COMPLETED ] || { cat "$T/sweep-$a.out"; fail "sweep task $a ended $st"; }
done
wait_job "$after"
[ "$(cat "$T/after.count" 2>/dev/null)" = 2 ] || fail "the dependent job did not see both levels' models"
for l in $levels; do
  grep -q "\"requested\": \"$l\"" "$T/sweep/level-$l/report.json" 2>/dev/null ||
    fail "sweep: level-$l/report.json missing or not made at level $l"
done
say "ok: sweep array over levels ($levels) and a dependent job (afterok)"

# ---- 2. an interrupted job: signal, exit 8, requeue, resume, same result -------
# The real sparsify with calibration (levels > 0): with compression the final
# models must be identical; until compression lands (exit 5 after calibrating)
# the calibration digests the two runs log must be. The run's data set is the
# demo's samples repeated, long enough to be stopped in the middle.
if [ -n "$calib" ]; then
  if [ -n "$compress" ]; then
    expect_exit=0:0
  else
    expect_exit=5:0
  fi
  mkdir -p "$T/bigdata"
  reps=${SLURM_TEST_REPS:-4}
  for r in $(seq -w 1 "$reps"); do
    for f in "$SRC"/demo/fashion-cnn/data/*.npz; do
      ln -s "$f" "$T/bigdata/r${r}_$(basename "$f")"
    done
  done
  # expect_end ID NAME: the job ended as a run at this level must end.
  expect_end() {
    local st ec
    st=$(job_field "$1" JobState)
    ec=$(job_field "$1" ExitCode)
    [ "$ec" = "$expect_exit" ] || { cat "$T/$2.out"; fail "$2: job $1 ended $st with exit code $ec, expected $expect_exit"; }
  }
  digest() { sed -n 's/.*calibration digest \([0-9a-f]\{64\}\).*/\1/p' "$1" | tail -n 1; }
  export SPARSIFY_DATA=$T/bigdata SPARSIFY_LEVEL=0.5 SPARSIFY_CHECKPOINT_EVERY=2
  ref=$(SPARSIFY_OUTPUT=$T/ref submit ref --ntasks=2) || fail "sbatch refused ref"
  wait_job "$ref"
  expect_end "$ref" ref
  say "ok: uninterrupted reference (job $ref, exit $expect_exit):" \
    "$(grep -h -m1 -o 'calibration: [0-9]* samples, .* in [0-9.]* s' "$T/ref.out")"

  id=$(SPARSIFY_OUTPUT=$T/int submit int --ntasks=2) || fail "sbatch refused int"
  wait_for 60 wait_file "$T/int/checkpoint.h5" || { cat "$T/int.out"; fail "int: no checkpoint appeared"; }
  scancel --signal=USR1 --batch "$id" || fail "scancel --signal=USR1 --batch $id failed"
  wait_job "$id"
  expect_end "$id" int
  restarts=$(job_field "$id" Restarts)
  grep -q "interrupted; checkpoint" "$T/int.out" && [ "${restarts:-0}" -ge 1 ] ||
    { cat "$T/int.out"; fail "int: the job ended before the signal stopped it (Restarts=$restarts); raise SLURM_TEST_REPS"; }
  grep -q "resuming from" "$T/int.out" || { cat "$T/int.out"; fail "int: the requeued job did not resume"; }
  d_ref=$(digest "$T/ref.out")
  d_int=$(digest "$T/int.out")
  [ -n "$d_ref" ] && [ "$d_ref" = "$d_int" ] ||
    fail "int: calibration digest after resume ($d_int) differs from the uninterrupted run's ($d_ref)"
  if [ -n "$compress" ]; then
    cmp "$T/ref/model.onnx" "$T/int/model.onnx" || fail "int: the resumed model differs from the uninterrupted one"
    say "ok: stopped by the signal, requeued $restarts time(s), resumed: model identical (cmp) to the reference"
  else
    say "ok: stopped by the signal, requeued $restarts time(s), resumed: calibration digest identical" \
      "($d_ref); no model to cmp until compression lands"
  fi
  export SPARSIFY_DATA=fashion-cnn
  unset SPARSIFY_CHECKPOINT_EVERY
fi

# ---- 3. the script's signal/requeue/resume logic under both launchers -------------
# A stand-in for sparsify (fast, and independent of what the library can do):
# waits to be stopped, then does what the real one does on SIGUSR1 (rank 0
# writes checkpoint.h5, every rank exits 8); started with --resume it
# "finishes" by copying the model. Under srun only when the real run above
# could not be made.
cat >"$T/fake-sparsify" <<'EOF'
#!/bin/bash
out= resume= model=
while [ $# -gt 0 ]; do
  case $1 in
    --output) out=$2; shift ;;
    --resume) resume=$2; shift ;;
    --model) model=$2; shift ;;
  esac
  shift
done
# The MPI launcher's rank first: under mpirun, SLURM_PROCID is the batch step's 0.
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}
if [ -n "$resume" ]; then
  grep -q "stopped by USR1" "$resume" || exit 9
  [ "$rank" = 0 ] && cp "$SPARSIFY_ZOO/$model/model.onnx" "$out/model.onnx"
  echo "sparsify: one-shot done (resumed, rank $rank)"
  exit 0
fi
trap '[ "$rank" = 0 ] && { echo "stopped by USR1" >"$out/.ck.tmp"; mv "$out/.ck.tmp" "$out/checkpoint.h5"; }; exit 8' USR1
touch "$out/running.$rank"
for _ in $(seq 600); do sleep 0.1; done
exit 3
EOF
chmod +x "$T/fake-sparsify"
launchers="srun mpirun"
[ -n "$calib" ] && launchers=mpirun
for launcher in $launchers; do
  name=requeue-$launcher
  id=$(SPARSIFY=$T/fake-sparsify SPARSIFY_LEVEL=0 SPARSIFY_OUTPUT=$T/$name SPARSIFY_LAUNCHER=$launcher \
    submit "$name" --ntasks=2) || fail "sbatch refused $name"
  wait_for 30 wait_file "$T/$name/running.1" || { cat "$T/$name.out"; fail "$name: ranks never started"; }
  wait_for 5 wait_file "$T/$name/running.0" || fail "$name: rank 0 never started"
  scancel --signal=USR1 --batch "$id" || fail "scancel --signal=USR1 --batch $id failed"
  wait_job "$id"
  expect_done "$id" "$name"
  restarts=$(job_field "$id" Restarts)
  [ "${restarts:-0}" -ge 1 ] || { cat "$T/$name.out"; fail "$name: job was not requeued (Restarts=$restarts)"; }
  grep -q "resuming from" "$T/$name.out" || { cat "$T/$name.out"; fail "$name: no --resume after the requeue"; }
  cmp -s "$demo_model" "$T/$name/model.onnx" || fail "$name: resumed run left no model"
  say "ok: $name (stand-in): signal forwarded, exit 8, requeued ($restarts), resumed (job $id)"
done
[ -z "$calib" ] && say "calibration is not in this build: the real interrupted run was skipped"
say "PASS"
