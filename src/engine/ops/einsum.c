/*
 * Einsum (opset 12): Einstein summation over any number of float32/float64
 * operands, as transformers export attention ("bhid,bhjd->bhij"), batched
 * projections ("bij,bjk->bik"), transposes ("ij->ji"), traces ("ii") and sums.
 *
 * The equation is parsed at load; an ellipsis stands for the leading axes a
 * term's letters do not name and broadcasts between operands like numpy.
 * Labels are resolved against shapes in prepare into, per operand, a stride
 * for every label (repeated labels in one term add their strides, which is
 * exactly a diagonal walk; a broadcast size-1 axis has stride 0).
 *
 * Two-operand float32 contractions where every label is a batch, row, column
 * or summed label (the transformer forms) are gathered into contiguous
 * [batch, M, K] and [batch, K, N] blocks and multiplied with sgemm; anything
 * else runs the reference loop, accumulating in double.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"

#define ES_MAX_IN 8
#define ES_MAX_LABELS 64 /* 52 letters + up to SP_MAX_DIMS ellipsis axes */
#define ES_ELL_BASE 52   /* label ids of ellipsis axes: ES_ELL_BASE + position from the left */

struct es_term {
    int n;                  /* letters (ellipsis excluded) */
    int labels[SP_MAX_DIMS + 1];
    int ell_pos;            /* index in labels[] where "..." stands, -1 if none */
};

struct es_state {
    int n_in;
    struct es_term in[ES_MAX_IN];
    struct es_term out;
    bool explicit_out;
    /* set by prepare */
    enum sp_dtype dt;
    int ell_rank;                                 /* axes the ellipsis covers in the output */
    int n_out, n_sum;
    int out_lab[ES_MAX_LABELS], sum_lab[ES_MAX_LABELS]; /* out_lab is checked against SP_MAX_DIMS after filling */
    int64_t size[ES_MAX_LABELS];
    int64_t stride[ES_MAX_IN][ES_MAX_LABELS];     /* element strides per operand and label */
    /* sgemm fast path */
    bool fast;
    bool broadcasts;                              /* some ellipsis axis broadcasts (size 1 against n) */
    int nb, nm, nn, nk;
    int bl[SP_MAX_DIMS], ml[SP_MAX_DIMS], nl[SP_MAX_DIMS], kl[SP_MAX_DIMS];
    int64_t B, M, N, K;
};

static int letter_id(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* Parses one term from s[0..len), skipping spaces. */
static enum sp_status parse_term(const struct sp_node *n, const char *s, size_t len, struct es_term *t,
                                 struct sp_error *err)
{
    t->n = 0;
    t->ell_pos = -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (s[i] == '.') {
            if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' || t->ell_pos >= 0)
                return sp_node_error(n, err, SP_ERR_FORMAT, "malformed ellipsis in equation");
            t->ell_pos = t->n;
            i += 2;
            continue;
        }
        int id = letter_id(s[i]);
        if (id < 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "equation has character '%c'; letters, ',', '->' and '...' are allowed",
                                 s[i]);
        if (t->n >= SP_MAX_DIMS)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "a term names more than %d axes", SP_MAX_DIMS);
        t->labels[t->n++] = id;
    }
    return SP_OK;
}

static enum sp_status es_init_body(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"equation", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs < 1 || n->n_inputs > ES_MAX_IN)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "expects 1 to %d inputs, got %d", ES_MAX_IN, n->n_inputs);
    for (int i = 0; i < n->n_inputs; i++)
        if (!n->inputs[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is required but omitted", i);
    if (n->n_outputs < 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "output 0 is required");
    char eq[256];
    if (!sp_attr_find(n, "equation"))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'equation' is required");
    if ((st = sp_attr_string(n, "equation", "", eq, sizeof eq, err)))
        return st;
    struct es_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    s->n_in = n->n_inputs;
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || eq[i] == ',') {
            if (k >= s->n_in)
                return sp_node_error(n, err, SP_ERR_FORMAT, "equation \"%s\" has more terms than the %d inputs", eq,
                                     s->n_in);
            if ((st = parse_term(n, eq + start, i - start, &s->in[k++], err)))
                return st;
            start = i + 1;
        }
    }
    if (k != s->n_in)
        return sp_node_error(n, err, SP_ERR_FORMAT, "equation \"%s\" has %d terms for %d inputs", eq, k, s->n_in);
    s->explicit_out = arrow != NULL;
    if (arrow) {
        if ((st = parse_term(n, arrow + 2, strlen(arrow + 2), &s->out, err)))
            return st;
        for (int i = 0; i < s->out.n; i++)
            for (int j = 0; j < i; j++)
                if (s->out.labels[i] == s->out.labels[j])
                    return sp_node_error(n, err, SP_ERR_FORMAT, "output label repeated in \"%s\"", eq);
    }
    return SP_OK;
}

static void es_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status es_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = es_init_body(n, err);
    if (st)
        es_free(n);
    return st;
}

/* Expands a term against a rank into full per-axis label ids; ellipsis axes
 * are right-aligned so that they broadcast like numpy. */
static int expand(const struct es_term *t, int rank, int ell_rank_total, int *lab)
{
    int ell = rank - t->n, k = 0;
    for (int i = 0; i <= t->n; i++) {
        if (i == t->ell_pos)
            for (int e = 0; e < ell; e++)
                lab[k++] = ES_ELL_BASE + (ell_rank_total - ell) + e;
        if (i < t->n)
            lab[k++] = t->labels[i];
    }
    return k;
}

static bool fast_path(struct es_state *s, const struct sp_node *n, const int *count_in, const bool *in_out)
{
    if (s->n_in != 2 || s->dt != SP_DTYPE_FLOAT || s->broadcasts)
        return false;
    s->nb = s->nm = s->nn = s->nk = 0;
    s->B = s->M = s->N = s->K = 1;
    for (int l = 0; l < ES_MAX_LABELS; l++) {
        if (!count_in[l] && !in_out[l])
            continue;
        bool in_a = false, in_b = false;
        for (int op = 0; op < 2; op++) {
            int c = 0, lab[SP_MAX_DIMS], k = expand(&s->in[op], sp_node_in(n, op)->ndim, s->ell_rank, lab);
            for (int i = 0; i < k; i++)
                c += lab[i] == l;
            (op ? &in_b : &in_a)[0] = c > 0;
            if (c > 1)
                return false; /* diagonal */
        }
        if (in_a && in_b && in_out[l])
            s->bl[s->nb++] = l, s->B *= s->size[l];
        else if (in_a && !in_b && in_out[l])
            s->ml[s->nm++] = l, s->M *= s->size[l];
        else if (!in_a && in_b && in_out[l])
            s->nl[s->nn++] = l, s->N *= s->size[l];
        else if (in_a && in_b && !in_out[l])
            s->kl[s->nk++] = l, s->K *= s->size[l];
        else
            return false; /* summed in one operand only */
    }
    return true;
}

static enum sp_status es_prepare(struct sp_node *n, struct sp_error *err)
{
    struct es_state *s = n->state;
    s->dt = sp_node_in(n, 0)->dtype;
    if (s->dt != SP_DTYPE_FLOAT && s->dt != SP_DTYPE_DOUBLE)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "inputs have dtype %s; float32 and float64 are supported",
                             sp_dtype_name(s->dt));
    int ell_rank = 0;
    for (int i = 0; i < s->n_in; i++) {
        const struct sp_tensor *t = sp_node_in(n, i);
        if (t->dtype != s->dt)
            return sp_node_error(n, err, SP_ERR_FORMAT, "input %d is %s but input 0 is %s", i, sp_dtype_name(t->dtype),
                                 sp_dtype_name(s->dt));
        int need = s->in[i].n;
        if (s->in[i].ell_pos < 0 ? t->ndim != need : t->ndim < need)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "input %d has rank %d but its term names %d axes", i, t->ndim,
                                 need);
        if (t->ndim - need > ell_rank)
            ell_rank = t->ndim - need;
    }
    s->ell_rank = ell_rank;
    int count_in[ES_MAX_LABELS] = {0};
    for (int l = 0; l < ES_MAX_LABELS; l++)
        s->size[l] = 1;
    bool seen[ES_MAX_LABELS] = {false};
    memset(s->stride, 0, sizeof s->stride);
    s->broadcasts = false;
    /* Pass 1: the size of every label; only ellipsis axes may broadcast. */
    for (int i = 0; i < s->n_in; i++) {
        const struct sp_tensor *t = sp_node_in(n, i);
        int lab[SP_MAX_DIMS];
        expand(&s->in[i], t->ndim, ell_rank, lab);
        for (int d = 0; d < t->ndim; d++) {
            int l = lab[d];
            int64_t sz = t->dims[d];
            count_in[l]++;
            if (seen[l] && s->size[l] != sz) {
                if (l < ES_ELL_BASE || (sz != 1 && s->size[l] != 1))
                    return sp_node_error(n, err, SP_ERR_MISMATCH, "%s axis has sizes %lld and %lld",
                                         l < ES_ELL_BASE ? "a labelled" : "an ellipsis", (long long)s->size[l],
                                         (long long)sz);
                s->broadcasts = true;
                if (sz > s->size[l])
                    s->size[l] = sz;
            } else if (!seen[l]) {
                s->size[l] = sz;
            }
            seen[l] = true;
        }
    }
    /* Pass 2: strides; a repeated label adds up (diagonal), a broadcast axis stays 0. */
    for (int i = 0; i < s->n_in; i++) {
        const struct sp_tensor *t = sp_node_in(n, i);
        int lab[SP_MAX_DIMS];
        expand(&s->in[i], t->ndim, ell_rank, lab);
        int64_t st = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->dims[d] == s->size[lab[d]])
                s->stride[i][lab[d]] += st;
            st *= t->dims[d];
        }
    }
    /* Output labels: explicit, or ellipsis axes then letters used once, sorted. */
    bool in_out[ES_MAX_LABELS] = {false};
    s->n_out = 0;
    if (s->explicit_out) {
        for (int i = 0; i < s->out.n; i++)
            if (!seen[s->out.labels[i]])
                return sp_node_error(n, err, SP_ERR_FORMAT, "output label '%c' is not in any input",
                                     s->out.labels[i] < 26 ? 'a' + s->out.labels[i] : 'A' + s->out.labels[i] - 26);
        if (s->out.ell_pos < 0 && ell_rank > 0)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "inputs have an ellipsis but the output has none");
        s->n_out = expand(&s->out, s->out.n + (s->out.ell_pos >= 0 ? ell_rank : 0), ell_rank, s->out_lab);
    } else {
        for (int e = 0; e < ell_rank; e++)
            s->out_lab[s->n_out++] = ES_ELL_BASE + e;
        for (int l = 0; l < ES_ELL_BASE; l++)
            if (count_in[l] == 1)
                s->out_lab[s->n_out++] = l;
    }
    if (s->n_out > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank exceeds %d", SP_MAX_DIMS);
    for (int i = 0; i < s->n_out; i++)
        in_out[s->out_lab[i]] = true;
    s->n_sum = 0;
    for (int l = 0; l < ES_MAX_LABELS; l++)
        if (seen[l] && !in_out[l])
            s->sum_lab[s->n_sum++] = l;
    int64_t od[SP_MAX_DIMS];
    for (int i = 0; i < s->n_out; i++)
        od[i] = s->size[s->out_lab[i]];
    sp_node_set_out(n, 0, s->dt, s->n_out, od);
    s->fast = fast_path(s, n, count_in, in_out);
    n->scratch_bytes = s->fast ? (size_t)(s->B * s->M * s->K + s->B * s->K * s->N + s->B * s->M * s->N) * sizeof(float) : 0;
    return SP_OK;
}

/* dst (dense, dims[0..nd)) <- src at sum(idx[d] * st[d]). */
static void gather_f32(float *dst, const float *src, int nd, const int64_t *dims, const int64_t *st)
{
    int64_t total = 1;
    for (int d = 0; d < nd; d++)
        total *= dims[d];
    int64_t idx[ES_MAX_LABELS] = {0}, off = 0;
    for (int64_t i = 0; i < total; i++) {
        dst[i] = src[off];
        for (int d = nd - 1; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < dims[d])
                break;
            off -= st[d] * dims[d];
            idx[d] = 0;
        }
    }
}

static void run_fast(const struct es_state *s, const float *a, const float *b, float *y, float *scratch)
{
    float *ap = scratch, *bp = ap + s->B * s->M * s->K, *cp = bp + s->B * s->K * s->N;
    int64_t dims[ES_MAX_LABELS], st[ES_MAX_LABELS];
    int nd = 0;
    /* A -> [batch..., m..., k...] */
    for (int i = 0; i < s->nb; i++) dims[nd] = s->size[s->bl[i]], st[nd++] = s->stride[0][s->bl[i]];
    for (int i = 0; i < s->nm; i++) dims[nd] = s->size[s->ml[i]], st[nd++] = s->stride[0][s->ml[i]];
    for (int i = 0; i < s->nk; i++) dims[nd] = s->size[s->kl[i]], st[nd++] = s->stride[0][s->kl[i]];
    gather_f32(ap, a, nd, dims, st);
    nd = 0;
    /* B -> [batch..., k..., n...] */
    for (int i = 0; i < s->nb; i++) dims[nd] = s->size[s->bl[i]], st[nd++] = s->stride[1][s->bl[i]];
    for (int i = 0; i < s->nk; i++) dims[nd] = s->size[s->kl[i]], st[nd++] = s->stride[1][s->kl[i]];
    for (int i = 0; i < s->nn; i++) dims[nd] = s->size[s->nl[i]], st[nd++] = s->stride[1][s->nl[i]];
    gather_f32(bp, b, nd, dims, st);
    for (int64_t t = 0; t < s->B; t++) {
        if (s->K == 0) {
            memset(cp + t * s->M * s->N, 0, sizeof(float) * (size_t)(s->M * s->N));
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f,
                    ap + t * s->M * s->K, (int)s->K, bp + t * s->K * s->N, (int)s->N, 0.0f, cp + t * s->M * s->N,
                    (int)s->N);
    }
    /* C is [batch..., m..., n...]: strides of each label there, then permute into the output order. */
    int64_t cst[ES_MAX_LABELS] = {0}, acc = 1;
    for (int i = s->nn - 1; i >= 0; i--) cst[s->nl[i]] = acc, acc *= s->size[s->nl[i]];
    for (int i = s->nm - 1; i >= 0; i--) cst[s->ml[i]] = acc, acc *= s->size[s->ml[i]];
    for (int i = s->nb - 1; i >= 0; i--) cst[s->bl[i]] = acc, acc *= s->size[s->bl[i]];
    for (int i = 0; i < s->n_out; i++)
        dims[i] = s->size[s->out_lab[i]], st[i] = cst[s->out_lab[i]];
    gather_f32(y, cp, s->n_out, dims, st);
}

#define ES_REF(T)                                                                                             \
    static void run_ref_##T(const struct es_state *s, const T *const *in, T *y)                               \
    {                                                                                                         \
        int64_t total = 1, inner = 1;                                                                         \
        for (int i = 0; i < s->n_out; i++)                                                                    \
            total *= s->size[s->out_lab[i]];                                                                  \
        for (int i = 0; i < s->n_sum; i++)                                                                    \
            inner *= s->size[s->sum_lab[i]];                                                                  \
        int64_t oidx[SP_MAX_DIMS] = {0}, base[ES_MAX_IN] = {0};                                               \
        for (int64_t o = 0; o < total; o++) {                                                                 \
            double acc = 0;                                                                                   \
            int64_t sidx[ES_MAX_LABELS] = {0}, off[ES_MAX_IN];                                                \
            for (int i = 0; i < s->n_in; i++)                                                                 \
                off[i] = base[i];                                                                             \
            for (int64_t r = 0; r < inner; r++) {                                                             \
                double p = 1;                                                                                 \
                for (int i = 0; i < s->n_in; i++)                                                             \
                    p *= (double)in[i][off[i]];                                                               \
                acc += p;                                                                                     \
                for (int d = s->n_sum - 1; d >= 0; d--) {                                                     \
                    int l = s->sum_lab[d];                                                                    \
                    for (int i = 0; i < s->n_in; i++)                                                         \
                        off[i] += s->stride[i][l];                                                            \
                    if (++sidx[d] < s->size[l])                                                               \
                        break;                                                                                \
                    for (int i = 0; i < s->n_in; i++)                                                         \
                        off[i] -= s->stride[i][l] * s->size[l];                                               \
                    sidx[d] = 0;                                                                              \
                }                                                                                             \
            }                                                                                                 \
            y[o] = (T)acc;                                                                                    \
            for (int d = s->n_out - 1; d >= 0; d--) {                                                         \
                int l = s->out_lab[d];                                                                        \
                for (int i = 0; i < s->n_in; i++)                                                             \
                    base[i] += s->stride[i][l];                                                               \
                if (++oidx[d] < s->size[l])                                                                   \
                    break;                                                                                    \
                for (int i = 0; i < s->n_in; i++)                                                             \
                    base[i] -= s->stride[i][l] * s->size[l];                                                  \
                oidx[d] = 0;                                                                                  \
            }                                                                                                 \
        }                                                                                                     \
    }
ES_REF(float)
ES_REF(double)

static enum sp_status es_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    (void)err;
    const struct es_state *s = n->state;
    struct sp_tensor *y = sp_node_out(n, 0);
    if (sp_tensor_numel(y) == 0)
        return SP_OK;
    if (s->fast) {
        run_fast(s, sp_node_in(n, 0)->data, sp_node_in(n, 1)->data, y->data, scratch);
        return SP_OK;
    }
    const void *in[ES_MAX_IN];
    for (int i = 0; i < s->n_in; i++)
        in[i] = sp_node_in(n, i)->data;
    if (s->dt == SP_DTYPE_FLOAT)
        run_ref_float(s, (const float *const *)in, y->data);
    else
        run_ref_double(s, (const double *const *)in, y->data);
    return SP_OK;
}

const struct sp_op sp_op_Einsum = {"Einsum", "", 12, 18, es_init, es_prepare, es_run, es_free};
