/*
 * sp_calibrate: the two statistics passes over the calibration samples, on
 * every rank, with exact merges, checkpoints and resume.
 *
 * Who does what: every rank derives the same layout (calib_discover), loads
 * only the samples of the groups dealt to it, runs the engine with an
 * observer that feeds the statistics, and at the end of every checkpoint
 * interval joins the merge. Rank 0's accumulators hold the merged totals plus
 * its own partial sums; the other ranks' hold only what they added since the
 * last merge and are cleared after it. Integer sums (counts, histograms, the
 * fixed-point Hessians) and MIN/MAX are exact, so the merge order, and so the
 * rank count, cannot change a bit. Rank 0 alone reads and writes checkpoints.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib/calib_internal.h"
#include "core/sha256.h"
#include "sparsify/ckpt.h"

static volatile sig_atomic_t stop_flag;

void sp_calib_request_stop(void) { stop_flag = 1; }
void sp_calib_clear_stop(void) { stop_flag = 0; }
bool sp_calib_stop_requested(void) { return stop_flag != 0; }

void sp_calib_options_init(struct sp_calib_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch_size = SP_CALIB_DEFAULT_BATCH;
    o->bins = SP_CALIB_DEFAULT_BINS;
}

static int64_t holdout_period(double holdout)
{
    if (!(holdout > 0))
        return 0;
    double k = round(1.0 / holdout);
    return k < 1 ? 1 : k > 1e15 ? 0 : (int64_t)k;
}

bool sp_calib_is_holdout(size_t index, double holdout)
{
    int64_t k = holdout_period(holdout);
    return k > 0 && (int64_t)(index % (size_t)k) == k - 1;
}

size_t sp_calib_holdout_list(size_t count, double holdout, size_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (sp_calib_is_holdout(i, holdout)) {
            if (out)
                out[n] = i;
            n++;
        }
    return n;
}

static enum sp_status nomem(struct sp_error *err)
{
    return sp_error_set(err, SP_ERR_NOMEM, "out of memory during calibration");
}

/* ---- per-tensor statistics ------------------------------------------------ */

static void observe_range(struct calib_tstat *s, const struct sp_tensor *t)
{
    const float *x = t->data;
    int64_t n = sp_tensor_numel(t), bad = 0, nan = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) {
            bad++;
            nan += v != v;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* + 0.0 turns -0 into +0: MIN over {-0, +0} must not depend on order. */
    if (bad < n) {
        if ((double)lo + 0.0 < s->min)
            s->min = (double)lo + 0.0;
        if ((double)hi + 0.0 > s->max)
            s->max = (double)hi + 0.0;
    }
    s->count += n;
    s->nan += nan;
    s->inf += bad - nan;
}

static void observe_hist(struct calib *c, int ti, const struct sp_tensor *t)
{
    const float *x = t->data;
    int64_t n = sp_tensor_numel(t);
    const int bins = c->opt->bins;
    int64_t *h = c->hist + (size_t)ti * (size_t)bins;
    const double lo = c->hlo[ti], sc = c->hscale[ti];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v))
            continue;
        double b = ((double)v - lo) * sc;
        int k = b <= 0 ? 0 : b >= bins - 1 ? bins - 1 : (int)b;
        h[k]++;
    }
}

static void observe(struct calib *c, int ti, const struct sp_tensor *t)
{
    if (ti < 0 || !t || t->dtype != SP_DTYPE_FLOAT || !t->data)
        return;
    if (c->pass == 1)
        observe_range(&c->ts[ti], t);
    else
        observe_hist(c, ti, t);
}

static enum sp_status observer(void *user, const struct sp_node_view *v, struct sp_error *err)
{
    struct calib *c = user;
    double t0 = sp_comm_wtime();
    const int *map = c->node_out[v->index];
    for (int o = 0; map && o < v->n_outputs; o++)
        if (map[o] >= 0)
            observe(c, map[o], v->outputs[o]);
    double t1 = sp_comm_wtime();
    c->t.histogram += t1 - t0;
    enum sp_status st = SP_OK;
    for (int l = c->node_layers[v->index]; l >= 0 && !st; l = c->node_layer_next[l]) {
        struct calib_slot *s = &c->slots[c->layers[l].slot];
        if (s->last_run == c->run_id)
            continue;
        s->last_run = c->run_id;
        if (c->pass == 1)
            s->rows1 += calib_slot_rows(c, s, v);
        else if (c->opt->hessians)
            st = calib_hessian_feed(c, s, v, err);
        else
            s->rows2 += calib_slot_rows(c, s, v);
    }
    c->t.hessian += sp_comm_wtime() - t1;
    return st;
}

/* ---- groups ----------------------------------------------------------------- */

static void free_batch(struct sp_tensor *in, int n)
{
    for (int i = 0; i < n; i++)
        sp_tensor_free(&in[i]);
}

/* Loads the samples of group j and stacks them into one batch per input. */
static enum sp_status load_group(struct calib *c, int64_t j, struct sp_tensor *in, struct sp_error *err)
{
    const int n_in = sp_model_num_inputs(c->model);
    int64_t first = j * c->opt->batch_size;
    int64_t nb = c->n_samples - first < c->opt->batch_size ? c->n_samples - first : c->opt->batch_size;
    enum sp_status st = SP_OK;
    memset(in, 0, (size_t)n_in * sizeof *in);
    for (int64_t b = 0; b < nb && !st; b++) {
        struct sp_npz npz = {0};
        size_t idx = c->samples[first + b];
        if ((st = sp_dataset_load(c->ds, idx, c->model, &npz, err)))
            break;
        for (int i = 0; i < n_in && !st; i++) {
            const struct sp_tensor *a = &npz.arrays[i];
            if (b == 0) {
                int64_t dims[SP_MAX_DIMS];
                if (a->ndim + 1 > SP_MAX_DIMS) {
                    st = sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: input '%s' has too many dimensions",
                                      c->ds->files[idx], npz.names[i]);
                    break;
                }
                dims[0] = nb;
                memcpy(dims + 1, a->dims, (size_t)a->ndim * sizeof *dims);
                st = sp_tensor_alloc(&in[i], a->dtype, a->ndim + 1, dims, err);
            } else if (a->dtype != in[i].dtype || a->ndim + 1 != in[i].ndim ||
                       memcmp(a->dims, in[i].dims + 1, (size_t)a->ndim * sizeof *a->dims) != 0) {
                char s1[128], s2[128];
                st = sp_error_set(err, SP_ERR_MISMATCH,
                                  "%s: input '%s' has shape %s but %s, in the same group, has %s (groups of %d samples): "
                                  "samples of one group must agree (use --batch-size 1)",
                                  c->ds->files[idx], npz.names[i], sp_shape_str(a->ndim, a->dims, s1, sizeof s1),
                                  c->ds->files[c->samples[first]],
                                  sp_shape_str(in[i].ndim - 1, in[i].dims + 1, s2, sizeof s2), c->opt->batch_size);
            }
            if (!st) {
                size_t bytes = sp_tensor_nbytes(a);
                memcpy((char *)in[i].data + (size_t)b * bytes, a->data, bytes);
            }
        }
        sp_npz_free(&npz);
    }
    if (st)
        free_batch(in, n_in);
    return st;
}

static enum sp_status run_group(struct calib *c, int64_t j, struct sp_error *err)
{
    const int n_in = sp_model_num_inputs(c->model);
    const int n_out = sp_model_num_outputs(c->model);
    struct sp_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    struct sp_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        return nomem(err);
    }
    double t0 = sp_comm_wtime();
    enum sp_status st = load_group(c, j, in, err);
    double t1 = sp_comm_wtime();
    c->t.load += t1 - t0;
    if (!st) {
        c->run_id++;
        for (int i = 0; i < n_in; i++)
            observe(c, c->input_tensor[i], &in[i]);
        double h0 = c->t.hessian + c->t.histogram;
        st = sp_engine_run(c->eng, in, out, err);
        c->t.forward += sp_comm_wtime() - t1 - (c->t.hessian + c->t.histogram - h0);
        c->t.groups_run++;
    }
    free_batch(in, n_in);
    free_batch(out, n_out);
    free(in);
    free(out);
    return st;
}

/* ---- merging ---------------------------------------------------------------- */

/* Sums every rank's partial statistics of the current pass into rank 0. */
static enum sp_status merge(struct calib *c, struct sp_error *err)
{
    double t0 = sp_comm_wtime();
    enum sp_status st = SP_OK;
    const int T = c->n_tensors, S = c->n_slots;
    if (c->size == 1)
        goto done;
    if (c->pass == 1) {
        size_t n = (size_t)3 * T + (size_t)S;
        double *mm = malloc(((size_t)2 * T + 1) * sizeof *mm);
        int64_t *iv = malloc((n + 1) * sizeof *iv);
        if (!mm || !iv) {
            free(mm);
            free(iv);
            st = nomem(err);
            goto done;
        }
        for (int i = 0; i < T; i++) {
            mm[i] = c->ts[i].min;
            mm[T + i] = -c->ts[i].max; /* one MIN for both extremes */
            iv[3 * i] = c->ts[i].count;
            iv[3 * i + 1] = c->ts[i].nan;
            iv[3 * i + 2] = c->ts[i].inf;
        }
        for (int s = 0; s < S; s++)
            iv[3 * T + s] = c->slots[s].rows1;
        st = sp_comm_allreduce_f64(c->comm, mm, (size_t)2 * T, SP_REDUCE_MIN, err);
        if (!st)
            st = sp_comm_allreduce_i64(c->comm, iv, n, SP_REDUCE_SUM, err);
        if (!st) {
            bool root = c->rank == 0;
            for (int i = 0; i < T; i++) {
                c->ts[i].min = mm[i];
                c->ts[i].max = -mm[T + i] + 0.0;
                c->ts[i].count = root ? iv[3 * i] : 0;
                c->ts[i].nan = root ? iv[3 * i + 1] : 0;
                c->ts[i].inf = root ? iv[3 * i + 2] : 0;
            }
            for (int s = 0; s < S; s++)
                c->slots[s].rows1 = root ? iv[3 * T + s] : 0;
        }
        free(mm);
        free(iv);
    } else {
        size_t nh = (size_t)T * (size_t)c->opt->bins;
        int64_t *rows = malloc(((size_t)S + 1) * sizeof *rows);
        if (!rows) {
            st = nomem(err);
            goto done;
        }
        for (int s = 0; s < S; s++)
            rows[s] = c->slots[s].rows2;
        st = sp_comm_allreduce_i64(c->comm, c->hist, nh, SP_REDUCE_SUM, err);
        if (!st)
            st = sp_comm_allreduce_i64(c->comm, rows, (size_t)S, SP_REDUCE_SUM, err);
        for (int s = 0; s < S && !st; s++) {
            c->slots[s].rows2 = c->rank == 0 ? rows[s] : 0;
            if (c->slots[s].acc) {
                size_t n = (size_t)(c->slots[s].groups * c->slots[s].tri);
                st = sp_comm_reduce_exact(c->comm, c->slots[s].acc, n, 0, err);
                if (!st && c->rank != 0)
                    memset(c->slots[s].acc, 0, n * sizeof *c->slots[s].acc);
            }
        }
        if (!st && c->rank != 0)
            memset(c->hist, 0, nh * sizeof *c->hist);
        free(rows);
    }
done:
    st = sp_comm_agree(c->comm, st, err);
    c->t.reduce += sp_comm_wtime() - t0;
    return st;
}

/* ---- identity of the run ------------------------------------------------------ */

static enum sp_status model_sha(const struct sp_model *m, char hex[65], struct sp_error *err)
{
    void *buf = NULL;
    size_t len = 0;
    struct sp_error e2 = {0};
    struct sp_sha256 h;
    uint8_t d[32];
    sp_sha256_init(&h);
    if (sp_model_serialize(m, &buf, &len, &e2) == SP_OK) {
        sp_sha256_update(&h, buf, len);
        free(buf);
    } else {
        /* Above protobuf's 2 GB: hash the file the model came from instead. */
        FILE *f = fopen(sp_model_path(m), "rb");
        if (!f)
            return sp_error_set(err, SP_ERR_IO, "%s: cannot read the model to hash it: %s", sp_model_path(m),
                                strerror(errno));
        char chunk[1 << 16];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            sp_sha256_update(&h, chunk, n);
        fclose(f);
    }
    sp_sha256_final(&h, d);
    sp_sha256_hex(d, hex);
    return SP_OK;
}

/* The data list's identity: every file's name, size and modification time
 * (reading every sample to hash its bytes would cost a whole extra pass). */
static enum sp_status data_sha(const struct sp_dataset *ds, char hex[65], struct sp_error *err)
{
    struct sp_sha256 h;
    uint8_t d[32];
    sp_sha256_init(&h);
    uint64_t n = ds->count;
    sp_sha256_update(&h, &n, sizeof n);
    for (size_t i = 0; i < ds->count; i++) {
        struct stat sb;
        if (stat(ds->files[i], &sb) != 0)
            return sp_error_set(err, SP_ERR_IO, "%s: cannot stat: %s", ds->files[i], strerror(errno));
        const char *base = strrchr(ds->files[i], '/');
        base = base ? base + 1 : ds->files[i];
        sp_sha256_update(&h, base, strlen(base) + 1);
        int64_t v[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec};
        sp_sha256_update(&h, v, sizeof v);
    }
    sp_sha256_final(&h, d);
    sp_sha256_hex(d, hex);
    return SP_OK;
}

struct ident {
    char model[65], data[65];
};

/* ---- checkpoints --------------------------------------------------------------- */

static enum sp_status write_ckpt(struct calib *c, const struct ident *id, int pass, int64_t done,
                                 struct sp_error *err)
{
    if (!c->opt->checkpoint_path)
        return SP_OK;
    double t0 = sp_comm_wtime();
    enum sp_status st = SP_OK;
    if (c->rank == 0) {
        struct sp_ckpt k = {0};
        k.version = SP_CKPT_FORMAT_VERSION;
        memcpy(k.model_sha256, id->model, 65);
        memcpy(k.data_sha256, id->data, 65);
        k.hessians = c->opt->hessians;
        k.batch_size = c->opt->batch_size;
        k.holdout = c->opt->holdout;
        k.bins = c->opt->bins;
        k.pass = pass;
        k.groups_done = done;
        k.groups = c->n_groups;
        k.n_tensors = c->n_tensors;
        k.n_hessians = c->n_slots;
        k.tensors = calloc((size_t)c->n_tensors + 1, sizeof *k.tensors);
        k.hess = calloc((size_t)c->n_slots + 1, sizeof *k.hess);
        if (!k.tensors || !k.hess) {
            st = nomem(err);
        } else {
            for (int i = 0; i < c->n_tensors; i++)
                k.tensors[i] = (struct sp_ckpt_tensor){c->tnames[i], c->ts[i].min, c->ts[i].max, c->ts[i].count,
                                                       c->ts[i].nan, c->ts[i].inf};
            k.hist = pass >= 2 ? c->hist : NULL;
            for (int s = 0; s < c->n_slots; s++) {
                const struct calib_slot *sl = &c->slots[s];
                k.hess[s] = (struct sp_ckpt_hessian){sl->key, sl->groups, sl->cols, sl->frac_bits, sl->rows1,
                                                     sl->rows2, pass >= 2 ? sl->acc : NULL};
            }
            st = sp_ckpt_write(c->opt->checkpoint_path, &k, err);
            if (!st)
                sp_log(c->log, SP_LOG_DEBUG, "checkpoint %s: pass %d, %lld of %lld groups",
                       c->opt->checkpoint_path, pass > 2 ? 2 : pass, (long long)(pass > 2 ? c->n_groups : done),
                       (long long)c->n_groups);
        }
        free(k.tensors);
        free(k.hess);
    }
    st = sp_comm_agree(c->comm, st, err);
    c->t.checkpoint += sp_comm_wtime() - t0;
    return st;
}

static enum sp_status differs(struct sp_error *err, const char *path, const char *what)
{
    return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: checkpoint is from another run: %s differs", path, what);
}

/* Rank 0: checks `k` belongs to this run and loads it into the accumulators. */
static enum sp_status load_ckpt(struct calib *c, const struct ident *id, const struct sp_ckpt *k, int *pass,
                                int64_t *done, struct sp_error *err)
{
    const char *p = c->opt->resume_path;
    char what[256];
    if (strcmp(k->model_sha256, id->model) != 0) {
        snprintf(what, sizeof what, "the model (sha256 %.12s... in the checkpoint, %.12s... now)", k->model_sha256,
                 id->model);
        return differs(err, p, what);
    }
    if (strcmp(k->data_sha256, id->data) != 0)
        return differs(err, p, "the data list (file names, sizes or modification times)");
    if (k->hessians != (int)c->opt->hessians)
        return differs(err, p, k->hessians ? "the optim level (checkpoint prunes, this run does not)"
                                           : "the optim level (this run prunes, the checkpoint does not)");
    if (k->batch_size != c->opt->batch_size) {
        snprintf(what, sizeof what, "--batch-size (%d in the checkpoint, %d now)", k->batch_size, c->opt->batch_size);
        return differs(err, p, what);
    }
    if (k->holdout != c->opt->holdout) {
        snprintf(what, sizeof what, "--holdout (%g in the checkpoint, %g now)", k->holdout, c->opt->holdout);
        return differs(err, p, what);
    }
    if (k->bins != c->opt->bins) {
        snprintf(what, sizeof what, "histogram bins (%d in the checkpoint, %d now)", k->bins, c->opt->bins);
        return differs(err, p, what);
    }
    if (k->groups != c->n_groups || k->n_tensors != c->n_tensors || k->n_hessians != c->n_slots)
        return sp_error_set(err, SP_ERR_CHECKPOINT,
                            "%s: corrupt checkpoint: %lld groups, %d tensors, %d Hessians; this run has %lld, %d, %d",
                            p, (long long)k->groups, k->n_tensors, k->n_hessians, (long long)c->n_groups,
                            c->n_tensors, c->n_slots);
    for (int i = 0; i < c->n_tensors; i++)
        if (strcmp(k->tensors[i].name, c->tnames[i]) != 0)
            return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: tensor %d is '%s', expected '%s'", p,
                                i, k->tensors[i].name, c->tnames[i]);
    for (int s = 0; s < c->n_slots; s++) {
        const struct sp_ckpt_hessian *h = &k->hess[s];
        if (strcmp(h->key, c->slots[s].key) != 0 || h->groups != c->slots[s].groups || h->cols != c->slots[s].cols)
            return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: Hessian %d is '%s', expected '%s'",
                                p, s, h->key, c->slots[s].key);
        if (k->pass >= 2 && c->opt->hessians && !h->acc)
            return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: Hessian %d has no acc_%d dataset", p,
                                s, s);
    }
    if (k->pass >= 2 && !k->hist)
        return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: tensors/hist missing in pass %d", p,
                            k->pass);
    for (int i = 0; i < c->n_tensors; i++) {
        const struct sp_ckpt_tensor *t = &k->tensors[i];
        if (t->count < 0 || t->nan_count < 0 || t->inf_count < 0 || t->min != t->min || t->max != t->max)
            return sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: tensor '%s' has bad counts", p,
                                t->name);
        c->ts[i] = (struct calib_tstat){t->min, t->max, t->count, t->nan_count, t->inf_count};
    }
    for (int s = 0; s < c->n_slots; s++) {
        c->slots[s].rows1 = k->hess[s].rows_pass1;
        c->slots[s].rows2 = k->hess[s].rows;
        c->slots[s].frac_bits = (int)k->hess[s].frac_bits;
    }
    *pass = k->pass;
    *done = k->groups_done;
    return SP_OK;
}

/* ---- passes --------------------------------------------------------------------- */

static void progress(struct calib *c, int pass, int64_t groups_done, double t_start)
{
    if (c->rank != 0 || !c->opt->progress)
        return;
    int64_t done = groups_done * c->opt->batch_size;
    if (done > c->n_samples)
        done = c->n_samples;
    c->opt->progress(c->opt->progress_user, pass, (long long)done, (long long)c->n_samples,
                     sp_comm_wtime() - t_start);
}

/* Runs pass c->pass from group `start`. Groups of each interval are dealt
 * round-robin; every round ends with an agreement on errors and on a stop
 * request, so no rank waits for one that has failed or stopped. */
static enum sp_status run_pass(struct calib *c, const struct ident *id, int64_t start, double t_start,
                               struct sp_error *err)
{
    const int64_t G = c->n_groups;
    const int64_t K = c->opt->checkpoint_every > 0 ? c->opt->checkpoint_every : (G ? G : 1);
    enum sp_status st = SP_OK;
    for (int64_t t0 = start; t0 < G; ) {
        int64_t t1 = t0 + K < G ? t0 + K : G;
        int64_t rounds = (t1 - t0 + c->size - 1) / c->size;
        for (int64_t q = 0; q < rounds; q++) {
            int64_t j = t0 + q * c->size + c->rank;
            st = j < t1 ? run_group(c, j, err) : SP_OK;
            if ((st = sp_comm_agree(c->comm, st, err)))
                return st;
            int64_t stop = stop_flag;
            if ((st = sp_comm_allreduce_i64(c->comm, &stop, 1, SP_REDUCE_MAX, err)))
                return st;
            int64_t done = t0 + (q + 1) * c->size < t1 ? t0 + (q + 1) * c->size : t1;
            progress(c, c->pass, done, t_start);
            if (stop && done < G) {
                if ((st = merge(c, err)) || (st = write_ckpt(c, id, c->pass, done, err)))
                    return st;
                sp_log(c->log, SP_LOG_WARN, "calibration interrupted in pass %d after %lld of %lld groups%s%s",
                       c->pass, (long long)done, (long long)G, c->opt->checkpoint_path ? ": checkpoint " : "",
                       c->opt->checkpoint_path ? c->opt->checkpoint_path : "");
                return sp_error_set(err, SP_ERR_INTERRUPTED, "calibration interrupted after %lld of %lld groups of pass %d%s%s",
                                    (long long)done, (long long)G, c->pass,
                                    c->opt->checkpoint_path ? "; resume from " : "",
                                    c->opt->checkpoint_path ? c->opt->checkpoint_path : "");
            }
        }
        if ((st = merge(c, err)))
            return st;
        if (t1 < G && c->opt->checkpoint_every > 0 && (st = write_ckpt(c, id, c->pass, t1, err)))
            return st;
        t0 = t1;
    }
    if (G == 0 && (st = merge(c, err)))
        return st;
    return SP_OK;
}

/* Between the passes: every rank takes rank 0's merged ranges (histogram edges)
 * and pass-1 row counts (fixed-point scaling). */
static enum sp_status start_pass2(struct calib *c, bool fresh, struct sp_error *err)
{
    const int T = c->n_tensors, S = c->n_slots;
    enum sp_status st = SP_OK;
    size_t nd = (size_t)2 * T + 1, ni = (size_t)S + 1;
    double *dv = malloc(nd * sizeof *dv);
    int64_t *iv = malloc(ni * sizeof *iv);
    if (!dv || !iv)
        st = nomem(err);
    if ((st = sp_comm_agree(c->comm, st, err)))
        goto out;
    for (int i = 0; i < T; i++) {
        dv[2 * i] = c->ts[i].min;
        dv[2 * i + 1] = c->ts[i].max;
    }
    for (int s = 0; s < S; s++)
        iv[s] = c->slots[s].rows1;
    if ((st = sp_comm_bcast(c->comm, dv, nd * sizeof *dv, 0, err)) ||
        (st = sp_comm_bcast(c->comm, iv, ni * sizeof *iv, 0, err)))
        goto out;
    for (int i = 0; i < T; i++) {
        c->ts[i].min = dv[2 * i];
        c->ts[i].max = dv[2 * i + 1];
        double lo = dv[2 * i], hi = dv[2 * i + 1];
        if (!(lo <= hi)) /* no finite value seen */
            lo = hi = 0;
        c->hlo[i] = lo;
        c->hscale[i] = hi > lo ? c->opt->bins / (hi - lo) : 0;
    }
    for (int s = 0; s < S; s++) {
        struct calib_slot *sl = &c->slots[s];
        double a = fabs(c->ts[sl->tensor].min), b = fabs(c->ts[sl->tensor].max);
        double m = a > b ? a : b;
        if (!isfinite(m))
            m = 0;
        /* No group total can exceed max|x|^2 times all rows of the data set. */
        int frac = sp_exact_frac_bits(m * m, (double)iv[s]);
        if (fresh || c->rank != 0)
            sl->frac_bits = frac;
        else if (sl->frac_bits != frac) /* resumed: the checkpoint must agree */
            st = sp_error_set(err, SP_ERR_CHECKPOINT, "%s: corrupt checkpoint: Hessian %d scaling %d, expected %d",
                              c->opt->resume_path, s, sl->frac_bits, frac);
        if (c->rank != 0)
            sl->rows1 = iv[s];
    }
    st = sp_comm_agree(c->comm, st, err);
    if (!st)
        for (int i = 0; i < T; i++)
            if (c->rank == 0 && (c->ts[i].nan || c->ts[i].inf))
                sp_log(c->log, SP_LOG_WARN, "tensor '%s': %lld NaN and %lld Inf values (left out of its range)",
                       c->tnames[i], (long long)c->ts[i].nan, (long long)c->ts[i].inf);
out:
    free(dv);
    free(iv);
    return st;
}

static enum sp_status setup(struct calib *c, struct sp_error *err)
{
    const struct sp_calib_options *o = c->opt;
    if (o->batch_size < 1)
        return sp_error_set(err, SP_ERR_USAGE, "calibration: batch size must be >= 1, got %d", o->batch_size);
    if (o->bins < 16 || o->bins > (1 << 20))
        return sp_error_set(err, SP_ERR_USAGE, "calibration: histogram bins must be in [16, 2^20], got %d", o->bins);
    if (!(o->holdout >= 0 && o->holdout <= 0.5))
        return sp_error_set(err, SP_ERR_USAGE, "calibration: holdout must be in [0, 0.5], got %g", o->holdout);
    if (o->checkpoint_every < 0)
        return sp_error_set(err, SP_ERR_USAGE, "calibration: checkpoint interval must be >= 0");
    if (!(c->samples = malloc((c->ds->count + 1) * sizeof *c->samples)))
        return nomem(err);
    for (size_t i = 0; i < c->ds->count; i++)
        if (!sp_calib_is_holdout(i, o->holdout))
            c->samples[c->n_samples++] = i;
    if (c->n_samples == 0)
        return sp_error_set(err, SP_ERR_USAGE, "%s: no sample left for statistics after holding out %g of %zu",
                            c->ds->dir, o->holdout, c->ds->count);
    c->n_groups = (c->n_samples + o->batch_size - 1) / o->batch_size;

    struct sp_engine_options eo = {o->threads, c->log};
    enum sp_status st = sp_engine_create(c->model, &eo, &c->eng, err);
    if (st)
        return st;
    /* Layout from the shapes of the first statistics sample, batch 1. */
    struct sp_npz npz = {0};
    if ((st = sp_dataset_load(c->ds, c->samples[0], c->model, &npz, err)))
        return st;
    int n_in = sp_model_num_inputs(c->model);
    struct sp_tensor *shapes = calloc((size_t)n_in + 1, sizeof *shapes);
    if (!shapes) {
        sp_npz_free(&npz);
        return nomem(err);
    }
    for (int i = 0; i < n_in; i++) {
        shapes[i].dtype = npz.arrays[i].dtype;
        shapes[i].ndim = npz.arrays[i].ndim + 1;
        shapes[i].dims[0] = 1;
        memcpy(shapes[i].dims + 1, npz.arrays[i].dims, (size_t)npz.arrays[i].ndim * sizeof(int64_t));
    }
    st = calib_discover(c, shapes, err);
    free(shapes);
    sp_npz_free(&npz);
    if (st)
        return st;
    const int T = c->n_tensors;
    size_t nh = (size_t)T * (size_t)o->bins;
    if (!(c->ts = calloc((size_t)T + 1, sizeof *c->ts)) || !(c->hist = calloc(nh + 1, sizeof *c->hist)) ||
        !(c->hlo = calloc((size_t)T + 1, sizeof *c->hlo)) || !(c->hscale = calloc((size_t)T + 1, sizeof *c->hscale)))
        return nomem(err);
    for (int i = 0; i < T; i++) {
        c->ts[i].min = INFINITY;
        c->ts[i].max = -INFINITY;
    }
    if (o->hessians)
        for (int s = 0; s < c->n_slots; s++) {
            struct calib_slot *sl = &c->slots[s];
            if (!(sl->acc = calloc((size_t)(sl->groups * sl->tri), sizeof *sl->acc)))
                return sp_error_set(err, SP_ERR_NOMEM, "out of memory for the Hessian of '%s' (%lld x %lld, %lld groups)",
                                    sl->input, (long long)sl->cols, (long long)sl->cols, (long long)sl->groups);
        }
    sp_engine_set_observer(c->eng, observer, c);
    return SP_OK;
}

static void calib_cleanup(struct calib *c)
{
    calib_free_layout(c);
    sp_engine_free(c->eng);
    free(c->ts);
    free(c->hist);
    free(c->hlo);
    free(c->hscale);
    free(c->samples);
}

enum sp_status sp_calibrate(const struct sp_model *model, const struct sp_dataset *ds,
                            const struct sp_calib_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                            struct sp_calib_stats **out, struct sp_error *err)
{
    double t_start = sp_comm_wtime();
    struct calib c = {.opt = opt, .comm = comm, .log = log, .model = model, .ds = ds};
    c.rank = sp_comm_rank(comm);
    c.size = sp_comm_size(comm);
    *out = NULL;
    struct ident id = {{0}, {0}};
    struct sp_ckpt *k = NULL;
    enum sp_status st = setup(&c, err);
    if (!st && c.rank == 0 && (opt->checkpoint_path || opt->resume_path)) {
        st = model_sha(model, id.model, err);
        if (!st)
            st = data_sha(ds, id.data, err);
    }
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    if (c.rank == 0)
        sp_log(log, SP_LOG_INFO,
               "calibration: %lld samples (%lld held out) in %lld groups of %d on %d rank%s; %d tensors, %d layers, "
               "%d Hessians%s",
               (long long)c.n_samples, (long long)(ds->count - (size_t)c.n_samples), (long long)c.n_groups,
               opt->batch_size, c.size, c.size > 1 ? "s" : "", c.n_tensors, c.n_layers, c.n_slots,
               opt->hessians ? "" : " (not accumulated)");

    /* Resume: rank 0 reads and checks the checkpoint; everyone learns where to start. */
    int64_t where[2] = {1, 0}; /* pass, groups done */
    if (opt->resume_path) {
        int pass = 1;
        int64_t done = 0;
        if (c.rank == 0) {
            st = sp_ckpt_read(opt->resume_path, &k, err);
            if (!st)
                st = load_ckpt(&c, &id, k, &pass, &done, err);
            if (!st && pass >= 2) {
                memcpy(c.hist, k->hist, (size_t)c.n_tensors * (size_t)opt->bins * sizeof *c.hist);
                if (opt->hessians)
                    for (int s = 0; s < c.n_slots; s++)
                        memcpy(c.slots[s].acc, k->hess[s].acc,
                               (size_t)(c.slots[s].groups * c.slots[s].tri) * sizeof *c.slots[s].acc);
            }
        }
        sp_ckpt_free(k);
        k = NULL;
        where[0] = pass;
        where[1] = done;
        if ((st = sp_comm_agree(comm, st, err)) || (st = sp_comm_bcast(comm, where, sizeof where, 0, err)))
            goto out;
        c.resumed = true;
        if (c.rank == 0)
            sp_log(log, SP_LOG_INFO, "resuming from %s: pass %d, %lld of %lld groups done", opt->resume_path,
                   where[0] > 2 ? 2 : (int)where[0], (long long)(where[0] > 2 ? c.n_groups : where[1]),
                   (long long)c.n_groups);
    }
    if (where[0] == 1) {
        c.pass = 1;
        if ((st = run_pass(&c, &id, where[1], t_start, err)))
            goto out;
    }
    /* The end-of-pass-1 checkpoint is written once the Hessian scaling that
     * depends on pass 1 is known, so a resumed pass 2 uses the same. */
    if ((st = start_pass2(&c, where[0] == 1, err)) || (where[0] == 1 && (st = write_ckpt(&c, &id, 2, 0, err))))
        goto out;
    if (where[0] <= 2) {
        c.pass = 2;
        if ((st = run_pass(&c, &id, where[0] == 2 ? where[1] : 0, t_start, err)) ||
            (st = write_ckpt(&c, &id, 3, 0, err)))
            goto out;
    }
    c.t.total = sp_comm_wtime() - t_start;
    if (c.rank == 0)
        st = calib_build_stats(&c, out, err);
    st = sp_comm_agree(comm, st, err);
    if (st && *out) {
        sp_calib_stats_free(*out);
        *out = NULL;
    }
out:
    calib_cleanup(&c);
    return st;
}
