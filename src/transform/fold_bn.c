/*
 * BatchNormalization folding. An inference-mode BatchNormalization after a
 * convolution is an affine map per output channel,
 *     y = (x - mean) * gamma / sqrt(var + eps) + beta,
 * so it can be merged into the convolution's weight and bias. Doing it before
 * calibration means the Hessians and activation ranges are taken on the graph
 * that is finally quantized, and the folded convolution is what pruning sees
 * (a BatchNorm left behind would rescale pruned and quantized weights).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparsify/compress.h"
#include "transform/graph.h"

/* Everything one fold needs, read before the graph is touched. */
struct fold {
    int conv, bn;
    bool transpose;
    int64_t cout, group;
    struct sp_tensor w, b, scale, shift, mean, var;
};

static void fold_free(struct fold *f)
{
    sp_tensor_free(&f->w);
    sp_tensor_free(&f->b);
    sp_tensor_free(&f->scale);
    sp_tensor_free(&f->shift);
    sp_tensor_free(&f->mean);
    sp_tensor_free(&f->var);
}

static bool is_vec(const struct sp_tensor *t, int64_t n) { return t->ndim == 1 && t->dims[0] == n; }

/* Reads the operands of one Conv -> BN pair; false (not an error) when the pair
 * does not qualify, e.g. a weight computed at run time. */
static bool read_pair(const Onnx__GraphProto *g, int bn_i, struct fold *f)
{
    const Onnx__NodeProto *bn = g->node[bn_i];
    memset(f, 0, sizeof *f);
    f->bn = bn_i;
    if (bn->n_input != 5 || bn->n_output < 1)
        return false;
    for (size_t k = 1; k < bn->n_output; k++)
        if (bn->output[k] && bn->output[k][0])
            return false; /* training mode outputs running stats */
    if (sp_graph_attr_int(bn, "training_mode", 0) != 0)
        return false;
    const char *x = bn->input[0];
    int p = sp_graph_producer(g, x);
    if (p < 0)
        return false;
    const Onnx__NodeProto *conv = g->node[p];
    if (strcmp(conv->op_type, "Conv") != 0 && strcmp(conv->op_type, "ConvTranspose") != 0)
        return false;
    if (conv->domain && conv->domain[0] && strcmp(conv->domain, "ai.onnx") != 0)
        return false;
    if (conv->n_output != 1 || sp_graph_use_count(g, x) != 1 || sp_graph_is_output(g, x))
        return false;
    if (conv->n_input < 2)
        return false;
    f->conv = p;
    f->transpose = conv->op_type[4] == 'T';
    f->group = sp_graph_attr_int(conv, "group", 1);
    struct sp_error e = {0};
    if (sp_graph_const_float(g, conv->input[1], &f->w, "weight", &e))
        goto no;
    if (f->w.ndim < 3 || f->group < 1)
        goto no;
    f->cout = f->transpose ? f->w.dims[1] * f->group : f->w.dims[0];
    if (f->transpose && f->w.dims[0] % f->group)
        goto no;
    if (conv->n_input >= 3 && conv->input[2] && conv->input[2][0]) {
        if (sp_graph_const_float(g, conv->input[2], &f->b, "bias", &e) || !is_vec(&f->b, f->cout))
            goto no;
    }
    struct sp_tensor *ps[4] = {&f->scale, &f->shift, &f->mean, &f->var};
    for (int k = 0; k < 4; k++)
        if (sp_graph_const_float(g, bn->input[k + 1], ps[k], "batchnorm parameter", &e) || !is_vec(ps[k], f->cout))
            goto no;
    return true;
no:
    fold_free(f);
    return false;
}

static enum sp_status apply(Onnx__GraphProto *g, struct sp_graph_edit *ed, struct fold *f, struct sp_error *err)
{
    Onnx__NodeProto *conv = g->node[f->conv];
    Onnx__NodeProto *bn = g->node[f->bn];
    double eps = sp_graph_attr_float(bn, "epsilon", 1e-5f);
    int64_t cout = f->cout;
    double *mul = malloc((size_t)cout * sizeof *mul);
    float *bias = malloc((size_t)cout * sizeof *bias);
    char *wname = NULL, *bname = NULL;
    struct sp_tensor bt = {0};
    enum sp_status st = SP_OK;
    if (!mul || !bias) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory folding BatchNormalization '%s'", bn->name ? bn->name : "");
        goto out;
    }
    const float *sc = f->scale.data, *sh = f->shift.data, *mu = f->mean.data, *va = f->var.data;
    const float *b0 = f->b.data;
    for (int64_t c = 0; c < cout; c++) {
        double denom = sqrt((double)va[c] + eps);
        mul[c] = denom > 0 ? sc[c] / denom : 0.0;
        double b = b0 ? b0[c] : 0.0;
        bias[c] = (float)((b - mu[c]) * mul[c] + sh[c]);
        if (!isfinite(mul[c]) || !isfinite(bias[c])) {
            st = sp_error_set(err, SP_ERR_NUMERIC, "BatchNormalization '%s': channel %lld folds to a non-finite value",
                              bn->name ? bn->name : "", (long long)c);
            goto out;
        }
    }
    float *w = f->w.data;
    int64_t numel = sp_tensor_numel(&f->w);
    if (!f->transpose) {
        /* Conv weight [Cout, Cin/g, k...]: output channel is axis 0. */
        int64_t per = numel / cout;
        for (int64_t c = 0; c < cout; c++)
            for (int64_t i = 0; i < per; i++)
                w[c * per + i] = (float)(w[c * per + i] * mul[c]);
    } else {
        /* ConvTranspose weight [Cin, Cout/g, k...]: channel = grp * Cout/g + j
         * where grp = input channel / (Cin/g). */
        int64_t cin = f->w.dims[0], opg = f->w.dims[1], per = numel / (cin * opg), ipg = cin / f->group;
        for (int64_t ci = 0; ci < cin; ci++)
            for (int64_t j = 0; j < opg; j++) {
                int64_t c = (ci / ipg) * opg + j;
                float *row = w + (ci * opg + j) * per;
                for (int64_t i = 0; i < per; i++)
                    row[i] = (float)(row[i] * mul[c]);
            }
    }
    const char *base = conv->name && conv->name[0] ? conv->name : conv->input[1];
    wname = sp_graph_unique(g, ed, base, "_W_bnfold");
    bname = sp_graph_unique(g, ed, base, "_B_bnfold");
    if (!wname || !bname) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory folding BatchNormalization");
        goto out;
    }
    int64_t bd[1] = {cout};
    if ((st = sp_tensor_alloc(&bt, SP_DTYPE_FLOAT, 1, bd, err)))
        goto out;
    memcpy(bt.data, bias, (size_t)cout * sizeof(float));
    if ((st = sp_graph_add_tensor(g, &f->w, wname, err)) || (st = sp_graph_add_tensor(g, &bt, bname, err)))
        goto out;
    if ((st = sp_graph_set_str(&conv->input[1], wname, err)))
        goto out;
    if (conv->n_input < 3) {
        char **in = realloc(conv->input, 3 * sizeof *in);
        if (!in) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory folding BatchNormalization");
            goto out;
        }
        conv->input = in;
        in[2] = NULL;
        conv->n_input = 3;
    }
    if ((st = sp_graph_set_str(&conv->input[2], bname, err)))
        goto out;
    if ((st = sp_graph_set_str(&conv->output[0], bn->output[0], err)))
        goto out;
    ed->remove[f->bn] = true;
out:
    sp_tensor_free(&bt);
    free(mul);
    free(bias);
    free(wname);
    free(bname);
    return st;
}

enum sp_status sp_transform_fold_batchnorm(struct sp_model *model, int *folded, struct sp_error *err)
{
    if (folded)
        *folded = 0;
    if (!model || !model->proto || !model->proto->graph)
        return sp_error_set(err, SP_ERR_USAGE, "fold BatchNormalization: no model");
    Onnx__GraphProto *g = model->proto->graph;
    struct sp_graph_edit ed;
    enum sp_status st = sp_graph_edit_init(&ed, g, err);
    if (st)
        return st;
    int count = 0;
    for (size_t i = 0; i < g->n_node && !st; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (strcmp(n->op_type, "BatchNormalization") != 0 || (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")))
            continue;
        struct fold f;
        if (!read_pair(g, (int)i, &f))
            continue;
        st = apply(g, &ed, &f, err);
        fold_free(&f);
        count += st == SP_OK;
    }
    if (!st)
        st = sp_graph_edit_commit(&ed, err);
    sp_graph_edit_free(&ed);
    if (!st && count)
        st = sp_graph_drop_unused_consts(g, NULL, err);
    if (!st && count)
        st = sp_model_refresh(model, err);
    if (folded)
        *folded = count;
    return st;
}
