/*
 * sp_cli_main: the sparsify command over the library. Parses options (every
 * rank parses the same argv, so every rank reaches the same verdict without
 * talking), installs the stderr logger, dispatches to the subcommand, prints
 * the final error once (rank 0) and maps the status to an exit code.
 */
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/signals.h"
#include "sparsify/data.h"
#include "sparsify/engine.h"
#include "sparsify/model.h"

#ifndef SPARSIFY_VERSION
#define SPARSIFY_VERSION "unknown"
#endif

struct log_ctx {
    int rank, size;
};

/* "sparsify: <level>: msg" on stderr. Info and debug come from rank 0 only (the
 * other ranks would repeat them); warnings and errors from any rank, tagged
 * with the rank when there are several. */
static void log_stderr(void *user, enum sp_log_level level, const char *msg)
{
    const struct log_ctx *c = user;
    if (level >= SP_LOG_INFO && c->rank != 0)
        return;
    if (c->size > 1 && level <= SP_LOG_WARN)
        fprintf(stderr, "sparsify: %s: rank %d: %s\n", sp_log_level_str(level), c->rank, msg);
    else
        fprintf(stderr, "sparsify: %s: %s\n", sp_log_level_str(level), msg);
}

/* ---- run: the engine over every sample of a folder ----------------------- */

/* Drops a leading batch dimension of 1 (outputs are written like the inputs:
 * one sample, no batch dimension). */
static void strip_batch(struct sp_tensor *t)
{
    if (t->ndim >= 1 && t->dims[0] == 1) {
        memmove(t->dims, t->dims + 1, (size_t)(t->ndim - 1) * sizeof t->dims[0]);
        t->ndim--;
    }
}

static enum sp_status run_share(const struct sp_cli_options *opt, const char *model_path, const char *data_dir,
                                struct sp_comm *comm, const struct sp_logger *log, size_t *done,
                                struct sp_error *err)
{
    struct sp_model *model = NULL;
    struct sp_engine *eng = NULL;
    struct sp_dataset ds = {0};
    bool have_ds = false;
    struct sp_tensor *inputs = NULL, *outputs = NULL;
    int n_in = 0, n_out = 0;
    enum sp_status st;
    *done = 0;

    /* Every rank lists the same folder and gets the same sorted order. */
    if ((st = sp_model_load(model_path, &model, err)))
        goto out;
    if ((st = sp_dataset_open(data_dir, sp_comm_rank(comm) == 0 ? log : NULL, &ds, err)))
        goto out;
    have_ds = true;
    struct sp_engine_options eo = {.threads = opt->threads, .log = log};
    if ((st = sp_engine_create(model, &eo, &eng, err)))
        goto out;
    n_in = sp_model_num_inputs(model);
    n_out = sp_model_num_outputs(model);
    inputs = calloc((size_t)n_in + 1, sizeof *inputs);
    outputs = calloc((size_t)n_out + 1, sizeof *outputs);
    if (!inputs || !outputs) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    int rank = sp_comm_rank(comm), size = sp_comm_size(comm);
    size_t lo = ds.count * (size_t)rank / (size_t)size, hi = ds.count * (size_t)(rank + 1) / (size_t)size;
    for (size_t i = lo; i < hi && !st; i++) {
        struct sp_npz in = {0};
        if ((st = sp_dataset_load(&ds, i, model, &in, err)))
            break;
        for (int k = 0; k < n_in && !st; k++) {
            const struct sp_tensor *a = &in.arrays[k];
            if (a->ndim + 1 > SP_MAX_DIMS) {
                st = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: input '%s' has too many dimensions", ds.files[i],
                                  in.names[k]);
                break;
            }
            /* A view with a batch dimension of 1 over the sample's buffer. */
            inputs[k] = (struct sp_tensor){.dtype = a->dtype, .ndim = a->ndim + 1, .data = a->data};
            inputs[k].dims[0] = 1;
            memcpy(inputs[k].dims + 1, a->dims, (size_t)a->ndim * sizeof a->dims[0]);
        }
        if (!st)
            st = sp_engine_run(eng, inputs, outputs, err);
        if (!st) {
            struct sp_npz res = {.count = n_out, .names = calloc((size_t)n_out + 1, sizeof(char *)), .arrays = outputs};
            if (!res.names) {
                st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
            } else {
                for (int k = 0; k < n_out; k++) {
                    res.names[k] = (char *)sp_model_output(model, k)->name;
                    strip_batch(&outputs[k]);
                }
                char base[4096], path[8192];
                snprintf(base, sizeof base, "%s", ds.files[i]);
                snprintf(path, sizeof path, "%s/%s", opt->output, basename(base));
                st = sp_npz_write(path, &res, err);
                free(res.names);
            }
            for (int k = 0; k < n_out; k++)
                sp_tensor_free(&outputs[k]);
            if (!st)
                ++*done;
        }
        sp_npz_free(&in);
    }
out:
    free(inputs);
    free(outputs);
    sp_engine_free(eng);
    if (have_ds)
        sp_dataset_free(&ds);
    sp_model_free(model);
    return st;
}

/* mkdir -p; 0 or -1 with errno. */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat sb;
        if (stat(buf, &sb) != 0 && mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = saved;
        if (!saved)
            break;
    }
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static enum sp_status cmd_run(const struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                              struct sp_error *err)
{
    char *model = NULL, *data = NULL;
    const char *mname, *dname;
    enum sp_status st = sp_cli_resolve_model(opt->model, opt->zoo, &model, &mname, err);
    if (!st)
        st = sp_cli_resolve_data(opt->data, opt->zoo, &data, &dname, err);
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    if (sp_comm_rank(comm) == 0) {
        /* The folder must exist before any rank writes into it. */
        if (make_dirs(opt->output) != 0) {
            st = sp_error_set(err, SP_ERR_WRITE, "--output %s: cannot create the folder: %s", opt->output,
                              strerror(errno));
        }
    }
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    size_t done = 0;
    st = run_share(opt, model, data, comm, log, &done, err);
    int64_t total = (int64_t)done;
    enum sp_status agreed = sp_comm_agree(comm, st, err);
    if (agreed) {
        st = agreed;
        goto out;
    }
    if ((st = sp_comm_allreduce_i64(comm, &total, 1, SP_REDUCE_SUM, err)))
        goto out;
    sp_log(log, SP_LOG_INFO, "run: %lld samples, outputs in %s", (long long)total, opt->output);
out:
    free(model);
    free(data);
    return st;
}

/* ---- one-shot ------------------------------------------------------------- */

/* Calibration progress on rank 0: a redrawn bar on a terminal, otherwise (a
 * Slurm log, a pipe) one plain line at most every 10 s and at each pass end. */
struct progress_ctx {
    bool tty;
    double last;
};

static void cli_progress(void *user, int pass, long long done, long long total, double elapsed)
{
    struct progress_ctx *p = user;
    double rate = elapsed > 0 ? done / elapsed : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    if (p->tty) {
        int width = 30, fill = total ? (int)(width * done / total) : width;
        fprintf(stderr, "\rcalibration pass %d/2 [%.*s%*s] %lld/%lld samples, %.1f/s, ETA %.0f s ", pass, fill,
                "##############################", width - fill, "", done, total, rate, eta);
        if (done == total)
            fputc('\n', stderr);
    } else if (done == total || elapsed - p->last >= 10.0) {
        fprintf(stderr, "sparsify: calibration pass %d/2: %lld/%lld samples, %.1f samples/s, ETA %.0f s\n", pass,
                done, total, rate, eta);
        p->last = elapsed;
    }
    fflush(stderr);
}

static enum sp_status cmd_one_shot(struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                                   struct sp_error *err)
{
    char *model = NULL, *data = NULL;
    const char *mname = NULL, *dname = NULL;
    /* Every rank resolves the names itself (cheap stat calls) so that each
     * holds the same paths; the ranks then agree, so a missing file on a node
     * that cannot see the file system stops everyone. */
    enum sp_status st = sp_cli_resolve_model(opt->model, opt->zoo, &model, &mname, err);
    if (!st)
        st = sp_cli_resolve_data(opt->data, opt->zoo, &data, &dname, err);
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    struct sp_oneshot_config cfg = opt->oneshot;
    cfg.model_path = model;
    cfg.data_dir = data;
    cfg.model_name = mname;
    cfg.data_name = dname;
    struct progress_ctx prog = {isatty(STDERR_FILENO) != 0, 0};
    if (!opt->quiet && opt->log_level >= SP_LOG_INFO && sp_comm_rank(comm) == 0) {
        cfg.progress = cli_progress;
        cfg.progress_user = &prog;
    }
    struct sp_oneshot_result res;
    /* SIGTERM/SIGUSR1/SIGINT during the run: checkpoint and exit 8 (signals.h). */
    if (sp_cli_signals_install() != 0)
        sp_log(log, SP_LOG_WARN, "cannot install signal handlers (%s): a signal will kill the run without a checkpoint",
               strerror(errno));
    st = sp_oneshot_run_ex(&cfg, comm, log, &res, err);
    sp_cli_signals_restore();
    if (!st && sp_comm_rank(comm) == 0 && !opt->quiet)
        printf("sparsify: one-shot done: %s/model.onnx and %s/report.json (%lld samples, %d ranks)\n%s%s",
               cfg.output_dir, cfg.output_dir, res.samples, sp_comm_size(comm), res.summary,
               res.summary[0] ? "\n" : "");
out:
    free(model);
    free(data);
    return st;
}

/* ---- entry ---------------------------------------------------------------- */

int sp_cli_main(int argc, char **argv, struct sp_comm *comm)
{
    struct sp_error err = {0};
    if (!comm) {
        fprintf(stderr, "sparsify: error: MPI could not start (is Open MPI installed and working?)\n");
        return sp_cli_exit_code(SP_ERR_MPI);
    }
    int rank = sp_comm_rank(comm);
    struct sp_cli_options opt;
    enum sp_status st = sp_cli_parse(argc, argv, &opt, &err);
    if (st) {
        if (rank == 0)
            fprintf(stderr, "sparsify: error: %s\n", err.msg);
        sp_cli_options_free(&opt);
        return sp_cli_exit_code(st);
    }
    if (opt.version || opt.help) {
        if (rank == 0) {
            if (opt.version)
                printf("sparsify %s\n", SPARSIFY_VERSION);
            else
                sp_cli_help(stdout, opt.command);
        }
        sp_cli_options_free(&opt);
        return 0;
    }

    struct log_ctx ctx = {rank, sp_comm_size(comm)};
    struct sp_logger log = {log_stderr, &ctx, opt.log_level};
    switch (opt.command) {
    case SP_CMD_ONE_SHOT: st = cmd_one_shot(&opt, comm, &log, &err); break;
    case SP_CMD_RUN: st = cmd_run(&opt, comm, &log, &err); break;
    case SP_CMD_BENCH: st = sp_cli_bench(&opt, comm, &log, &err); break;
    case SP_CMD_EVAL: st = sp_cli_cmd_eval(&opt, comm, &log, &err); break;
    default: st = sp_error_set(&err, SP_ERR_INTERNAL, "no command"); break;
    }
    if (st && rank == 0)
        fprintf(stderr, "sparsify: error: %s\n", err.msg[0] ? err.msg : sp_status_str(st));
    sp_cli_options_free(&opt);
    fflush(stdout);
    return sp_cli_exit_code(st);
}
