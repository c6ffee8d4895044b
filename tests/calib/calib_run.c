/*
 * A small driver of sp_calibrate for the MPI tests (tests/calib.cmake): runs
 * calibration on a model and data folder and prints, on rank 0, the stats
 * digest and a few facts the scripts check. Exit code: 0, or 10 + status.
 *
 *   calib_run MODEL DATA [--batch N] [--every K] [--prune] [--holdout F]
 *             [--ckpt FILE] [--resume FILE] [--stop-after-samples N] [--dump]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sparsify/calib.h"

static long long stop_after = -1;

static void on_progress(void *user, int pass, long long done, long long total, double elapsed)
{
    (void)user;
    (void)total;
    (void)elapsed;
    /* Stands in for a signal: the stop request is picked up at the next group boundary. */
    if (stop_after >= 0 && pass == 1 && done >= stop_after)
        sp_calib_request_stop();
}

static void log_fn(void *user, enum sp_log_level level, const char *msg)
{
    (void)user;
    fprintf(stderr, "calib_run: %s: %s\n", sp_log_level_str(level), msg);
}

int main(int argc, char **argv)
{
    struct sp_error err = {0};
    struct sp_comm *comm = sp_comm_init(&argc, &argv, &err);
    if (!comm) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: calib_run MODEL DATA [options]\n");
        return sp_comm_finalize(comm, 2);
    }
    struct sp_calib_options o;
    sp_calib_options_init(&o);
    o.progress = on_progress;
    bool dump = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--batch")) o.batch_size = atoi(v), i++;
        else if (!strcmp(a, "--every")) o.checkpoint_every = atoi(v), i++;
        else if (!strcmp(a, "--holdout")) o.holdout = atof(v), i++;
        else if (!strcmp(a, "--bins")) o.bins = atoi(v), i++;
        else if (!strcmp(a, "--ckpt")) o.checkpoint_path = v, i++;
        else if (!strcmp(a, "--resume")) o.resume_path = v, i++;
        else if (!strcmp(a, "--stop-after-samples")) stop_after = atoll(v), i++;
        else if (!strcmp(a, "--prune")) o.hessians = true;
        else if (!strcmp(a, "--dump")) dump = true;
        else {
            fprintf(stderr, "calib_run: unknown option %s\n", a);
            return sp_comm_finalize(comm, 2);
        }
    }
    struct sp_logger lg = {log_fn, NULL, sp_comm_rank(comm) == 0 ? SP_LOG_INFO : SP_LOG_WARN};
    struct sp_model *m = NULL;
    struct sp_dataset ds = {0};
    struct sp_calib_stats *s = NULL;
    enum sp_status st = sp_model_load(argv[1], &m, &err);
    if (!st)
        st = sp_dataset_open(argv[2], NULL, &ds, &err);
    st = sp_comm_agree(comm, st, &err);
    if (!st)
        st = sp_calibrate(m, &ds, &o, comm, &lg, &s, &err);
    /* Peak RSS of the largest rank, for the benchmark's memory column. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t rss_kb = ru.ru_maxrss;
    struct sp_error e2 = {0};
    sp_comm_allreduce_i64(comm, &rss_kb, 1, SP_REDUCE_MAX, &e2);
    if (sp_comm_rank(comm) == 0) {
        printf("peak_rss_mb %lld\n", (long long)(rss_kb / 1024));
        if (st) {
            fprintf(stderr, "calib_run: error: %s\n", err.msg);
        } else {
            char hex[65];
            sp_calib_stats_digest(s, hex);
            printf("digest %s\n", hex);
            printf("samples %lld groups %lld tensors %d layers %d hessians %d resumed %d\n", (long long)s->samples,
                   (long long)s->groups, s->n_tensors, s->n_layers, s->n_hessians, (int)s->resumed);
            const struct sp_calib_timers *t = &s->time;
            printf("time total %.3f load %.3f forward %.3f hessian %.3f histogram %.3f reduce %.3f checkpoint %.3f "
                   "hessian_gflop %.3f groups_run %lld\n",
                   t->total, t->load, t->forward, t->hessian, t->histogram, t->reduce, t->checkpoint,
                   t->hessian_flops * 1e-9, (long long)t->groups_run);
            if (dump) {
                for (int i = 0; i < s->n_layers; i++)
                    printf("layer %s %s w=%s in=%s groups=%lld rpg=%lld cols=%lld kn=%d hessian=%d rows=%lld\n",
                           s->layers[i].node, s->layers[i].op_type, s->layers[i].weight, s->layers[i].input,
                           (long long)s->layers[i].groups, (long long)s->layers[i].rows_per_group,
                           (long long)s->layers[i].cols, (int)s->layers[i].weight_kn, s->layers[i].hessian,
                           (long long)s->layers[i].rows_seen);
                for (int i = 0; i < s->n_tensors; i++)
                    printf("tensor %s min %g max %g count %lld\n", s->tensors[i].name, s->tensors[i].min,
                           s->tensors[i].max, (long long)s->tensors[i].count);
            }
        }
        fflush(stdout);
    }
    sp_calib_stats_free(s);
    sp_dataset_free(&ds);
    sp_model_free(m);
    return sp_comm_finalize(comm, st ? 10 + (int)st : 0);
}
