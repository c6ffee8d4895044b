/*
 * Gemm (opsets 1..18; before 7 with its 'broadcast' attribute) and MatMul (opsets 1..18), float32, on OpenBLAS sgemm.
 *
 * MatMul follows numpy: 1-D operands are promoted to a matrix and the promoted
 * axis dropped from the result, leading (batch) axes broadcast. When B has no
 * batch of its own (the Linear layers of every transformer), A's batch axes
 * fold into M and the whole node is one large sgemm, which is where OpenBLAS
 * is fastest; otherwise one sgemm per output batch with broadcast offsets.
 * Gemm writes beta * C first and lets sgemm accumulate onto it.
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/ops/im2col.h"

/* ---------------------------------------------------------------- Gemm */

struct gemm_state {
    float alpha, beta;
    bool trans_a, trans_b;
    bool exact_c; /* opsets 1-6 with broadcast = 0: C must be exactly M x N */
    int64_t m, n, k;
    /* C broadcast: element (i, j) is c[i * c_row + j * c_col]. */
    int64_t c_row, c_col;
};

static void op_free(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static enum sp_status gemm_init_common(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
    static const char *const known_6[] = {"alpha", "beta", "broadcast", "transA", "transB", NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset < 7 ? known_6 : known, err);
    if (st)
        return st;
    int min_in = n->opset >= 11 ? 2 : 3;
    if (n->n_inputs < min_in || n->n_inputs > 3 || !n->inputs[0] || !n->inputs[1])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs A, B%s, got %d inputs",
                             min_in == 3 ? " and C" : " and an optional C", n->n_inputs);
    if (n->n_outputs != 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects exactly one output, got %d", n->n_outputs);
    struct gemm_state *s = calloc(1, sizeof *s);
    if (!s)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    n->state = s;
    int64_t ta, tb;
    if ((st = sp_attr_float(n, "alpha", 1.0f, &s->alpha, err)) || (st = sp_attr_float(n, "beta", 1.0f, &s->beta, err)) ||
        (st = sp_attr_int(n, "transA", 0, &ta, err)) || (st = sp_attr_int(n, "transB", 0, &tb, err)))
        return st;
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
        return sp_node_error(n, err, SP_ERR_FORMAT, "attributes 'transA' and 'transB' must be 0 or 1");
    s->trans_a = ta;
    s->trans_b = tb;
    /* Before opset 7, C broadcasts only with broadcast = 1; otherwise it must be M x N. */
    int64_t bc = 1;
    if (n->opset < 7 && (st = sp_attr_int(n, "broadcast", 0, &bc, err)))
        return st;
    s->exact_c = bc == 0;
    return SP_OK;
}

static enum sp_status gemm_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = gemm_init_common(n, err);
    if (st)
        op_free(n);
    return st;
}

static enum sp_status gemm_prepare(struct sp_node *n, struct sp_error *err)
{
    struct gemm_state *s = n->state;
    enum sp_status st;
    if ((st = sp_op_need_float(n, 0, "A", err)) || (st = sp_op_need_float(n, 1, "B", err)))
        return st;
    const struct sp_tensor *a = sp_node_in(n, 0), *b = sp_node_in(n, 1), *c = sp_node_in(n, 2);
    if (c && (st = sp_op_need_float(n, 2, "C", err)))
        return st;
    if (a->ndim != 2 || b->ndim != 2)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "A and B must be matrices, got ranks %d and %d", a->ndim,
                             b->ndim);
    s->m = s->trans_a ? a->dims[1] : a->dims[0];
    s->k = s->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = s->trans_b ? b->dims[1] : b->dims[0];
    s->n = s->trans_b ? b->dims[0] : b->dims[1];
    if (kb != s->k)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "inner dimensions disagree: A gives K = %lld, B gives %lld",
                             (long long)s->k, (long long)kb);
    if (s->m > INT_MAX || s->n > INT_MAX || s->k > INT_MAX)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
    if (c) {
        /* Unidirectional broadcast of C to (M, N), numpy alignment from the right. */
        int64_t cr = c->ndim == 2 ? c->dims[0] : 1;
        int64_t cc = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->ndim > 2 || (cr != 1 && cr != s->m) || (cc != 1 && cc != s->n))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "C of rank %d cannot be broadcast to [%lld, %lld]",
                                 c->ndim, (long long)s->m, (long long)s->n);
        if (s->exact_c && (c->ndim != 2 || cr != s->m || cc != s->n))
            return sp_node_error(n, err, SP_ERR_MISMATCH, "C must be [%lld, %lld] when broadcast = 0",
                                 (long long)s->m, (long long)s->n);
        s->c_row = cr == 1 ? 0 : cc;
        s->c_col = cc == 1 ? 0 : 1;
    }
    int64_t out[2] = {s->m, s->n};
    if ((st = sp_op_check_elems(n, "the output", 2, out, err)))
        return st;
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, 2, out);
    return SP_OK;
}

static int ld(int64_t v) { return v > 1 ? (int)v : 1; }

static enum sp_status gemm_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct gemm_state *s = n->state;
    const struct sp_tensor *at = sp_node_in(n, 0), *bt = sp_node_in(n, 1), *ct = sp_node_in(n, 2);
    float *y = sp_node_out(n, 0)->data;
    const int64_t M = s->m, N = s->n, K = s->k;
    float beta = 0.0f;
    if (ct && s->beta != 0.0f) {
        const float *c = ct->data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                y[i * N + j] = s->beta * c[i * s->c_row + j * s->c_col];
        beta = 1.0f;
    }
    if (M == 0 || N == 0)
        return SP_OK;
    if (K == 0) {
        if (beta == 0.0f)
            memset(y, 0, (size_t)(M * N) * sizeof(float));
        return SP_OK;
    }
    cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans, s->trans_b ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, s->alpha, at->data, ld(at->dims[1]), bt->data, ld(bt->dims[1]), beta, y,
                ld(N));
    return SP_OK;
}

const struct sp_op sp_op_Gemm = {
    .type = "Gemm",
    .domain = "",
    .opset_min = 1,
    .opset_max = 18,
    .init = gemm_init,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .free = op_free,
};

/* -------------------------------------------------------------- MatMul */

struct matmul_state {
    int64_t m, n, k;
    /* Broadcast batch: `nb` axes of sizes `bdims`; matrix strides (in whole
     * matrices) of A and B along each, 0 where that operand broadcasts. */
    int nb;
    int64_t bdims[SP_MAX_DIMS];
    int64_t a_step[SP_MAX_DIMS], b_step[SP_MAX_DIMS];
    int64_t batches;
    bool fold; /* B is one matrix: A's batch folds into M */
};

static enum sp_status matmul_init_common(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    if (n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects inputs A and B, got %d inputs", n->n_inputs);
    if (n->n_outputs != 1 || !n->outputs[0])
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects exactly one output, got %d", n->n_outputs);
    n->state = calloc(1, sizeof(struct matmul_state));
    if (!n->state)
        return sp_node_error(n, err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

static enum sp_status matmul_init(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = matmul_init_common(n, err);
    if (st)
        op_free(n);
    return st;
}

static enum sp_status matmul_prepare(struct sp_node *n, struct sp_error *err)
{
    struct matmul_state *s = n->state;
    enum sp_status st;
    if ((st = sp_op_need_float(n, 0, "A", err)) || (st = sp_op_need_float(n, 1, "B", err)))
        return st;
    const struct sp_tensor *a = sp_node_in(n, 0), *b = sp_node_in(n, 1);
    if (a->ndim < 1 || b->ndim < 1)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "A and B must have rank >= 1, got %d and %d", a->ndim,
                             b->ndim);
    s->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    s->k = a->dims[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    s->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (kb != s->k)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "inner dimensions disagree: A has K = %lld, B has %lld",
                             (long long)s->k, (long long)kb);
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    s->nb = na > nbb ? na : nbb;
    int64_t out[SP_MAX_DIMS + 2];
    int nout = 0;
    /* Batch axes, aligned from the right; steps are row-major over each operand's own batch. */
    int64_t sa = 1, sb = 1;
    for (int i = s->nb - 1; i >= 0; i--) {
        int ia = i - (s->nb - na), ib = i - (s->nb - nbb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "batch dimensions %lld and %lld do not broadcast",
                                 (long long)da, (long long)db);
        s->bdims[i] = da == 1 ? db : da;
        s->a_step[i] = da == 1 ? 0 : sa;
        s->b_step[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    s->batches = 1;
    for (int i = 0; i < s->nb; i++) {
        out[nout++] = s->bdims[i];
        s->batches *= s->bdims[i];
    }
    if (a->ndim >= 2)
        out[nout++] = s->m;
    if (b->ndim >= 2)
        out[nout++] = s->n;
    if (nout > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank %d exceeds %d", nout, SP_MAX_DIMS);
    if ((st = sp_op_check_elems(n, "the output", nout, out, err)))
        return st;
    /* B is a single matrix (or broadcast one): A's batch folds into M, which
     * is contiguous because A's rows of consecutive batches follow each other. */
    s->fold = sb == 1 && sa == s->batches;
    int64_t m_total = s->fold ? s->m * s->batches : s->m;
    if (m_total > INT_MAX || s->n > INT_MAX || s->k > INT_MAX)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
    n->scratch_bytes = 0;
    sp_node_set_out(n, 0, SP_DTYPE_FLOAT, nout, out);
    return SP_OK;
}

static enum sp_status matmul_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct matmul_state *s = n->state;
    const float *a = sp_node_in(n, 0)->data, *b = sp_node_in(n, 1)->data;
    float *y = sp_node_out(n, 0)->data;
    const int64_t M = s->m, N = s->n, K = s->k;
    if (M == 0 || N == 0 || s->batches == 0)
        return SP_OK;
    if (K == 0) {
        memset(y, 0, (size_t)(s->batches * M * N) * sizeof(float));
        return SP_OK;
    }
    if (s->fold) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(M * s->batches), (int)N, (int)K, 1.0f, a,
                    ld(K), b, ld(N), 0.0f, y, ld(N));
        return SP_OK;
    }
    int64_t idx[SP_MAX_DIMS] = {0};
    int64_t ao = 0, bo = 0;
    for (int64_t t = 0; t < s->batches; t++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a + ao * M * K, ld(K),
                    b + bo * K * N, ld(N), 0.0f, y + t * M * N, ld(N));
        /* Odometer over the batch axes, updating both operands' offsets. */
        for (int i = s->nb - 1; i >= 0; i--) {
            idx[i]++;
            ao += s->a_step[i];
            bo += s->b_step[i];
            if (idx[i] < s->bdims[i])
                break;
            ao -= s->a_step[i] * idx[i];
            bo -= s->b_step[i] * idx[i];
            idx[i] = 0;
        }
    }
    return SP_OK;
}

const struct sp_op sp_op_MatMul = {
    .type = "MatMul",
    .domain = "",
    .opset_min = 1,
    .opset_max = 18,
    .init = matmul_init,
    .prepare = matmul_prepare,
    .run = matmul_run,
    .free = op_free,
};
