/*
 * `sparsify eval`: top-1 accuracy of a classifier on a labelled data folder,
 * optionally of a second model on the same samples, printed side by side so
 * that a user sees what compression cost on their own data. The samples are
 * split in contiguous blocks over the ranks and the integer counts summed, so
 * the figures are the same for any number of ranks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sparsify/data.h"
#include "sparsify/eval.h"
#include "sparsify/model.h"

struct eval_row {
    const char *path;
    struct sp_accuracy acc;
};

/* This rank's block of the samples through one model. */
static enum sp_status score_share(const char *model_path, const struct sp_dataset *ds,
                                  const struct sp_eval_labels *labels, const struct sp_eval_options *eo,
                                  struct sp_comm *comm, const struct sp_logger *log, struct sp_accuracy *acc,
                                  struct sp_error *err)
{
    struct sp_model *model = NULL;
    int rank = sp_comm_rank(comm), size = sp_comm_size(comm);
    size_t lo = ds->count * (size_t)rank / (size_t)size, hi = ds->count * (size_t)(rank + 1) / (size_t)size;
    enum sp_status st = sp_model_load(model_path, &model, err);
    if (!st)
        st = sp_eval_accuracy(model, ds, labels, lo, hi, eo, log, acc, err);
    sp_model_free(model);
    return st;
}

static double pct(const struct sp_accuracy *a) { return a->count ? 100.0 * (double)a->correct / (double)a->count : 0; }

static void print_text(const struct eval_row *rows, int n)
{
    if (n == 1) {
        printf("%s: top-1 accuracy %.2f%% (%lld/%lld samples, %lld classes)\n", rows[0].path, pct(&rows[0].acc),
               (long long)rows[0].acc.correct, (long long)rows[0].acc.count, (long long)rows[0].acc.classes);
        return;
    }
    int w = 12;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].path) > w)
            w = (int)strlen(rows[i].path);
    printf("%-16s %-*s %-*s\n", "", w, "model", w, "--compare");
    printf("%-16s %-*s %-*s\n", "file", w, rows[0].path, w, rows[1].path);
    char a[64], b[64];
    snprintf(a, sizeof a, "%.2f%%", pct(&rows[0].acc));
    snprintf(b, sizeof b, "%.2f%%", pct(&rows[1].acc));
    printf("%-16s %-*s %-*s\n", "top-1 accuracy", w, a, w, b);
    snprintf(a, sizeof a, "%lld/%lld", (long long)rows[0].acc.correct, (long long)rows[0].acc.count);
    snprintf(b, sizeof b, "%lld/%lld", (long long)rows[1].acc.correct, (long long)rows[1].acc.count);
    printf("%-16s %-*s %-*s\n", "correct", w, a, w, b);
    snprintf(b, sizeof b, "%+.2f points", pct(&rows[1].acc) - pct(&rows[0].acc));
    printf("%-16s %-*s %-*s\n", "difference", w, "", w, b);
}

/* A JSON string literal (the CLI prints JSON by hand: the test harness links
 * the CLI without jansson). */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_json(const struct eval_row *rows, int n)
{
    printf("{\n  \"samples\": %lld,\n  \"models\": [", (long long)rows[0].acc.count);
    for (int i = 0; i < n; i++) {
        printf("%s\n    {\"model\": ", i ? "," : "");
        json_str(rows[i].path);
        printf(", \"correct\": %lld, \"count\": %lld, \"classes\": %lld, \"accuracy\": %.17g}",
               (long long)rows[i].acc.correct, (long long)rows[i].acc.count, (long long)rows[i].acc.classes,
               rows[i].acc.count ? (double)rows[i].acc.correct / (double)rows[i].acc.count : 0.0);
    }
    printf("\n  ]");
    if (n == 2)
        printf(",\n  \"difference_points\": %.17g", pct(&rows[1].acc) - pct(&rows[0].acc));
    printf("\n}\n");
}

enum sp_status sp_cli_cmd_eval(const struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                               struct sp_error *err)
{
    char *paths[2] = {NULL, NULL}, *data = NULL;
    const char *name;
    struct sp_dataset ds = {0};
    bool have_ds = false;
    struct sp_eval_labels labels = {0};
    struct eval_row rows[2] = {{0}};
    int n = opt->compare ? 2 : 1;

    /* Every rank resolves and reads for itself (small files), then they agree
     * so that a rank that cannot see a file stops every rank. */
    enum sp_status st = sp_cli_resolve_model(opt->model, opt->zoo, &paths[0], &name, err);
    if (!st && opt->compare)
        st = sp_cli_resolve_model(opt->compare, opt->zoo, &paths[1], &name, err);
    if (!st)
        st = sp_cli_resolve_data(opt->data, opt->zoo, &data, &name, err);
    if (!st) {
        st = sp_dataset_open(data, sp_comm_rank(comm) == 0 ? log : NULL, &ds, err);
        have_ds = st == SP_OK;
    }
    if (!st)
        st = sp_eval_labels_read(opt->labels, (int64_t)ds.count, &labels, err);
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;

    struct sp_eval_options eo;
    sp_eval_options_init(&eo);
    eo.batch_size = opt->batch;
    eo.threads = opt->threads;
    for (int i = 0; i < n; i++) {
        rows[i].path = opt->compare && i == 1 ? opt->compare : opt->model;
        st = score_share(paths[i], &ds, &labels, &eo, comm, log, &rows[i].acc, err);
        if ((st = sp_comm_agree(comm, st, err)))
            goto out;
        int64_t counts[2] = {rows[i].acc.correct, rows[i].acc.count};
        if ((st = sp_comm_allreduce_i64(comm, counts, 2, SP_REDUCE_SUM, err)))
            goto out;
        int64_t classes = rows[i].acc.classes;
        if ((st = sp_comm_allreduce_i64(comm, &classes, 1, SP_REDUCE_MAX, err)))
            goto out;
        rows[i].acc.correct = counts[0];
        rows[i].acc.count = counts[1];
        rows[i].acc.classes = classes;
        sp_log(log, SP_LOG_INFO, "eval: %s scored on %lld samples in %.2f s (rank 0's share)", paths[i],
               (long long)counts[1], rows[i].acc.seconds);
    }
    if (sp_comm_rank(comm) == 0) {
        if (opt->json)
            print_json(rows, n);
        else
            print_text(rows, n);
    }
    st = sp_comm_agree(comm, st, err);
out:
    sp_eval_labels_free(&labels);
    if (have_ds)
        sp_dataset_free(&ds);
    free(paths[0]);
    free(paths[1]);
    free(data);
    return st;
}
