/*
 * The QDQ rewrite: turns a model whose layers were quantized by the weight
 * pass into the QuantizeLinear/DequantizeLinear form that ONNX Runtime's graph
 * optimizer fuses into integer kernels (QLinearConv, QLinearMatMul /
 * MatMulIntegerToFloat, QGemm, QLinearAdd, QLinearAveragePool, ...).
 *
 * Layout (see docs/compression.md for the picture):
 *   weights  int8 initializer -> DequantizeLinear(per-channel scale, int8 zero
 *            point 0, axis 0 for [N, K] weights, axis 1 for [K, N] ones);
 *   biases   int32 initializer, scale = s_input * s_weight[c], zero point 0,
 *            DequantizeLinear axis 0;
 *   activations  one QuantizeLinear -> DequantizeLinear pair per tensor (uint8,
 *            asymmetric, per tensor), shared by all its consumers.
 * Placement rules, following ONNX Runtime's own quantizer:
 *   - every quantized layer's input is quantized; a Conv's output too, Gemm's
 *     and MatMul's when all their consumers can take int8;
 *   - a Relu (or Clip from >= 0) right after a layer is crossed: the pair goes
 *     on its output, where ORT drops the Relu into the Q (zero point 0);
 *   - int8 flows on through MaxPool / Reshape / Flatten / Transpose /
 *     Squeeze / Unsqueeze (same scale as their input, so ORT drops the pairs),
 *     AveragePool / GlobalAveragePool, and through Add and Concat whose inputs
 *     are all quantized already (residual joins);
 *   - graph outputs stay float.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"
#include "sparsify/log.h"

/* ---- opset ---------------------------------------------------------------- */

/* Ops of the default domain whose meaning changed at `since` (<= 13): a model
 * older than that cannot just be relabelled opset 13. */
static const struct {
    const char *op;
    int since;
} opset_breaks[] = {
    {"Softmax", 13}, {"LogSoftmax", 13}, {"Hardmax", 13}, {"Squeeze", 13}, {"Unsqueeze", 13},
    {"ReduceSum", 13}, {"Split", 13}, {"Dropout", 12}, {"Clip", 11}, {"Pad", 11}, {"Resize", 11},
    {"Scan", 9}, {"Upsample", 10}, {"Slice", 10}, {"TopK", 10}, {"BatchNormalization", 9},
    {"If", 11}, {"Loop", 11}, {"ArgMax", 12}, {"ArgMin", 12}, {"ReduceMax", 12}, {"ReduceMin", 12},
    {"MaxPool", 12}, {"GatherND", 12}, {"Expand", 8}, {"MaxUnpool", 11},
};

static bool in_default_domain(const Onnx__NodeProto *n)
{
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

static enum sp_status check_upgrade(const Onnx__GraphProto *g, int64_t from, const char *file, int depth,
                                    struct sp_error *err)
{
    if (!g || depth > 64)
        return SP_OK;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (in_default_domain(n))
            for (size_t k = 0; k < sizeof opset_breaks / sizeof *opset_breaks; k++) {
                if (strcmp(n->op_type, opset_breaks[k].op) || from >= opset_breaks[k].since)
                    continue;
                /* Softmax with an explicit last axis means the same before and after 13. */
                if (opset_breaks[k].since == 13 && strstr(n->op_type, "max") &&
                    sp_graph_attr_int(n, "axis", 1) == -1)
                    continue;
                return sp_error_set(err, SP_ERR_UNSUPPORTED,
                                    "%s: QDQ quantization needs opset 13, and node '%s' (%s) changed meaning between "
                                    "opset %lld and 13: re-export the model at opset 13 or later",
                                    file, n->name ? n->name : "", n->op_type, (long long)from);
            }
        for (size_t a = 0; a < n->n_attribute; a++) {
            enum sp_status st = check_upgrade(n->attribute[a]->g, from, file, depth + 1, err);
            for (size_t k = 0; !st && k < n->attribute[a]->n_graphs; k++)
                st = check_upgrade(n->attribute[a]->graphs[k], from, file, depth + 1, err);
            if (st)
                return st;
        }
    }
    return SP_OK;
}

enum sp_status sp_qdq_prepare_opset(struct sp_model *model, int64_t *opset_in, struct sp_error *err)
{
    const char *file = model->path ? model->path : "<memory>";
    *opset_in = model->opset;
    if (model->opset >= 13)
        return SP_OK;
    if (model->opset < 7)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: opset %lld is too old to raise to 13 for QDQ quantization (expected 7 or later)",
                            file, (long long)model->opset);
    enum sp_status st = check_upgrade(model->proto->graph, model->opset, file, 0, err);
    if (st)
        return st;
    Onnx__ModelProto *mp = model->proto;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) {
            o->has_version = 1;
            o->version = 13;
        }
    }
    if (mp->ir_version < 7) /* opset 13 needs IR 7 */
        mp->ir_version = 7;
    model->opset = 13;
    return SP_OK;
}

/* ---- marked activations ------------------------------------------------------ */

struct qt {
    char *name;     /* owned copy */
    int alias;      /* index of the tensor whose parameters this one reuses, or -1 */
    bool ok;        /* parameters known */
    bool written;   /* a Q/DQ pair was written (some consumer reads int8) */
    double lo, hi;
    float scale;
    uint8_t zp;
};

struct qset {
    struct qt *t;
    int n, cap;
};

static int qset_find(const struct qset *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0)
            return i;
    return -1;
}

/* Marks `name`; with alias >= 0 the tensor reuses that tensor's parameters
 * (overriding an earlier own marking). Returns the index or -1 (no memory). */
static int qset_mark(struct qset *s, const char *name, int alias)
{
    int i = qset_find(s, name);
    if (i >= 0) {
        if (alias >= 0 && alias != i)
            s->t[i].alias = alias;
        return i;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct qt *t = realloc(s->t, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        s->t = t;
        s->cap = cap;
    }
    struct qt *q = &s->t[s->n];
    memset(q, 0, sizeof *q);
    if (!(q->name = strdup(name)))
        return -1;
    q->alias = alias;
    return s->n++;
}

static void qset_free(struct qset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->t[i].name);
    free(s->t);
    memset(s, 0, sizeof *s);
}

/* Follows aliases to the tensor that owns the parameters (-1 on a cycle). */
static int qset_root(const struct qset *s, int i)
{
    for (int hops = 0; i >= 0 && s->t[i].alias >= 0; hops++) {
        if (hops > s->n)
            return -1;
        i = s->t[i].alias;
    }
    return i;
}

/* The only consumer of `name`, or -1. */
static int sole_consumer(const Onnx__GraphProto *g, const char *name)
{
    if (sp_graph_use_count(g, name) != 1)
        return -1;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (strcmp(g->node[i]->input[k], name) == 0)
                return (int)i;
    return -1;
}

/* Where a layer's (or Add's) output pair goes: after a following Relu, or
 * Clip whose lower bound is a constant >= 0, which ORT folds into the Q. */
static const char *post_tensor(const Onnx__GraphProto *g, const char *y)
{
    if (sp_graph_is_output(g, y))
        return y;
    int c = sole_consumer(g, y);
    if (c < 0)
        return y;
    const Onnx__NodeProto *n = g->node[c];
    if (!in_default_domain(n) || n->n_output != 1 || strcmp(n->input[0], y) != 0)
        return y;
    if (strcmp(n->op_type, "Relu") == 0)
        return n->output[0];
    if (strcmp(n->op_type, "Clip") == 0) {
        double lo = sp_graph_attr_float(n, "min", -INFINITY);
        struct sp_tensor t = {0};
        struct sp_error e = {0};
        if (n->n_input >= 2 && n->input[1][0] && !sp_graph_const_float(g, n->input[1], &t, "clip min", &e) &&
            sp_tensor_numel(&t) == 1)
            lo = ((const float *)t.data)[0];
        sp_tensor_free(&t);
        if (lo >= 0)
            return n->output[0];
    }
    return y;
}

static bool is_op(const Onnx__NodeProto *n, const char *op) { return in_default_domain(n) && !strcmp(n->op_type, op); }

/* Ops that move int8 data unchanged: their output reuses the input's scale. */
static bool is_passthrough(const Onnx__NodeProto *n)
{
    static const char *const ops[] = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", NULL};
    for (int i = 0; ops[i]; i++)
        if (is_op(n, ops[i]))
            return n->n_output == 1 || (n->n_output == 2 && !n->output[1][0]);
    return false;
}

static bool is_int8_pool(const Onnx__NodeProto *n)
{
    return (is_op(n, "AveragePool") || is_op(n, "GlobalAveragePool")) && n->n_output == 1;
}

static int layer_of_node(const struct sp_layer *l, int n, int node)
{
    for (int i = 0; i < n; i++)
        if (l[i].info.node == node)
            return i;
    return -1;
}

/* True when an input of n is a constant. An Add of a constant is a MatMul's
 * bias (BERT-style encoders keep it outside the MatMul): it never runs in
 * int8, so a Q/DQ pair in front of it only adds a requantization and a
 * DequantizeLinear. Without it ORT fuses DQ -> MatMul into
 * MatMulIntegerToFloat, whose float output feeds the Add directly. */
static bool has_const_input(const Onnx__GraphProto *g, const Onnx__NodeProto *n)
{
    struct sp_graph_const c;
    for (size_t k = 0; k < n->n_input; k++)
        if (n->input[k][0] && sp_graph_find_const(g, n->input[k], &c))
            return true;
    return false;
}

/* True when every consumer of `name` can take int8 input. */
static bool consumers_int8(const Onnx__GraphProto *g, const struct sp_layer *l, int nl, const char *name)
{
    int uses = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        for (size_t k = 0; k < n->n_input; k++) {
            if (strcmp(n->input[k], name))
                continue;
            uses++;
            int li = layer_of_node(l, nl, (int)i);
            bool ok = (li >= 0 && l[li].quantized && k == 0) || (k == 0 && (is_passthrough(n) || is_int8_pool(n))) ||
                      ((is_op(n, "Add") || is_op(n, "Concat")) && !has_const_input(g, n));
            if (!ok)
                return false;
        }
    }
    return uses > 0 && uses == sp_graph_use_count(g, name);
}

static enum sp_status mark_all(const Onnx__GraphProto *g, const struct sp_layer *l, int nl, struct qset *s,
                               struct sp_error *err)
{
#define MARK(name, alias)                                                                                              \
    do {                                                                                                               \
        if (qset_mark(s, (name), (alias)) < 0)                                                                         \
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory marking activations");                            \
    } while (0)
    for (int i = 0; i < nl; i++) {
        if (!l[i].quantized)
            continue;
        MARK(l[i].info.input, -1);
        const char *post = post_tensor(g, l[i].output);
        if (sp_graph_is_output(g, post))
            continue;
        if (l[i].kind == SP_LAYER_CONV || consumers_int8(g, l, nl, post))
            MARK(post, -1);
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (n->n_input < 1 || n->n_output < 1)
            continue;
        const char *out = n->output[0];
        if (sp_graph_is_output(g, out))
            continue;
        int in = qset_find(s, n->input[0]);
        if (is_passthrough(n) && in >= 0) {
            MARK(out, in);
        } else if (is_int8_pool(n) && in >= 0) {
            MARK(out, -1);
        } else if ((is_op(n, "Add") && n->n_input == 2) || (is_op(n, "Concat") && n->n_output == 1)) {
            bool all = true;
            for (size_t k = 0; k < n->n_input && all; k++)
                all = qset_find(s, n->input[k]) >= 0;
            if (!all)
                continue;
            const char *post = is_op(n, "Add") ? post_tensor(g, out) : out;
            if (!sp_graph_is_output(g, post))
                MARK(post, -1);
        }
    }
#undef MARK
    return SP_OK;
}

/* Chooses every tensor's parameters; tensors without a histogram (and those
 * aliasing them) are dropped from the set. */
static enum sp_status choose_params(struct qset *s, const struct sp_compress_stats *stats, enum sp_calib_method m,
                                    double pct, const struct sp_logger *log, struct sp_error *err)
{
    for (int i = 0; i < s->n; i++) {
        struct qt *q = &s->t[i];
        if (q->alias >= 0)
            continue;
        struct sp_histogram h;
        if (!stats || !stats->histogram || !stats->histogram(stats->user, q->name, &h)) {
            sp_log(log, SP_LOG_WARN, "activation %s: no calibration histogram, left in float", q->name);
            continue;
        }
        struct sp_qrange r;
        enum sp_status st = sp_quant_choose_range(&h, m, pct, &r, err);
        if (st)
            return st;
        q->lo = r.lo;
        q->hi = r.hi;
        sp_quant_uint8_params(r, &q->scale, &q->zp);
        if (!(q->scale > 0) || !isfinite(q->scale))
            return sp_error_set(err, SP_ERR_NUMERIC, "activation %s: scale %g from range [%g, %g]", q->name,
                                (double)q->scale, r.lo, r.hi);
        q->ok = true;
    }
    for (int i = 0; i < s->n; i++) {
        struct qt *q = &s->t[i];
        if (q->alias < 0)
            continue;
        int r = qset_root(s, i);
        if (r >= 0 && s->t[r].ok) {
            q->lo = s->t[r].lo;
            q->hi = s->t[r].hi;
            q->scale = s->t[r].scale;
            q->zp = s->t[r].zp;
            q->ok = true;
        }
    }
    return SP_OK;
}

/* ---- writing -------------------------------------------------------------------- */

static enum sp_status add_scalar(Onnx__GraphProto *g, struct sp_graph_edit *ed, const char *base, const char *suffix,
                                 enum sp_dtype dt, const void *v, char **name, struct sp_error *err)
{
    struct sp_tensor t = {0};
    enum sp_status st = sp_tensor_alloc(&t, dt, 0, NULL, err);
    if (st)
        return st;
    memcpy(t.data, v, sp_dtype_size(dt));
    if (!(*name = sp_graph_unique(g, ed, base, suffix)))
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    else
        st = sp_graph_add_tensor(g, &t, *name, err);
    sp_tensor_free(&t);
    return st;
}

static enum sp_status add_vector(Onnx__GraphProto *g, struct sp_graph_edit *ed, const char *base, const char *suffix,
                                 enum sp_dtype dt, int64_t n, const void *v, char **name, struct sp_error *err)
{
    struct sp_tensor t = {0};
    int64_t d[1] = {n};
    enum sp_status st = sp_tensor_alloc(&t, dt, 1, d, err);
    if (st)
        return st;
    if (v)
        memcpy(t.data, v, (size_t)n * sp_dtype_size(dt));
    if (!(*name = sp_graph_unique(g, ed, base, suffix)))
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    else
        st = sp_graph_add_tensor(g, &t, *name, err);
    sp_tensor_free(&t);
    return st;
}

/* DequantizeLinear(x, scale, zp) -> new output name, queued first in the graph. */
static enum sp_status add_dq(Onnx__GraphProto *g, struct sp_graph_edit *ed, int anchor, const char *base,
                             const char *x, const char *scale, const char *zp, int axis, char **out, int *count,
                             struct sp_error *err)
{
    if (!(*out = sp_graph_unique(g, ed, base, "_dequantized")))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    char *nname = sp_graph_unique(g, ed, base, "_DequantizeLinear");
    if (!nname)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    const char *in[3] = {x, scale, zp};
    const char *o[1] = {*out};
    Onnx__NodeProto *n = sp_graph_edit_add(ed, anchor, "DequantizeLinear", nname, in, 3, o, 1, err);
    free(nname);
    if (!n)
        return err ? err->status : SP_ERR_NOMEM;
    (*count)++;
    return axis >= 0 ? sp_graph_set_attr_int(n, "axis", axis, err) : SP_OK;
}

/* Int8 weight, per-channel scales, and the int32 bias when the input scale is known. */
static enum sp_status write_layer(Onnx__GraphProto *g, struct sp_graph_edit *ed, struct sp_layer *l,
                                  const struct qt *xin, int *count, const struct sp_logger *log, struct sp_error *err)
{
    Onnx__NodeProto *node = g->node[l->info.node];
    const char *w = l->info.weight;
    char *qn = NULL, *sn = NULL, *zn = NULL, *dq = NULL;
    char *bq = NULL, *bs = NULL, *bz = NULL, *bdq = NULL, *wbase = NULL;
    int32_t *bi = NULL;
    float *bsc = NULL;
    struct sp_tensor b = {0};
    enum sp_status st = SP_OK;
    int64_t rows = l->info.rows;
    int axis = l->weight_kn ? 1 : 0;
    if (!(wbase = strdup(w)))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    if (!(qn = sp_graph_unique(g, ed, wbase, "_quantized"))) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = sp_graph_add_tensor(g, &l->q, qn, err)))
        goto out;
    if ((st = add_vector(g, ed, wbase, "_scale", SP_DTYPE_FLOAT, rows, l->scales, &sn, err)) ||
        (st = add_vector(g, ed, wbase, "_zero_point", SP_DTYPE_INT8, rows, NULL, &zn, err)) ||
        (st = add_dq(g, ed, -1, wbase, qn, sn, zn, axis, &dq, count, err)) ||
        (st = sp_graph_set_str(&node->input[1], dq, err)))
        goto out;
    l->info.weight = node->input[1];

    if (!l->bias)
        goto out;
    if (!xin || !xin->ok) {
        sp_log(log, SP_LOG_WARN, "layer %s: input not quantized, bias left in float", node->name ? node->name : "");
        goto out;
    }
    if ((st = sp_graph_const_float(g, l->bias, &b, "bias", err)))
        goto out;
    if (sp_tensor_numel(&b) != rows) {
        st = sp_error_set(err, SP_ERR_INTERNAL, "bias %s: expected %lld values", l->bias, (long long)rows);
        goto out;
    }
    bi = malloc((size_t)rows * sizeof *bi);
    bsc = malloc((size_t)rows * sizeof *bsc);
    if (!bi || !bsc) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const float *bv = b.data;
    for (int64_t c = 0; c < rows; c++) {
        /* float32 product, as ORT computes the requantization scale */
        bsc[c] = xin->scale * l->scales[c];
        double v = bsc[c] > 0 ? nearbyint((double)bv[c] / (double)bsc[c]) : 0.0;
        if (!isfinite(v))
            v = 0;
        bi[c] = v > 2147483647.0 ? INT32_MAX : v < -2147483648.0 ? INT32_MIN : (int32_t)v;
    }
    char *bbase = strdup(l->bias);
    if (!bbase) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!(st = add_vector(g, ed, bbase, "_quantized", SP_DTYPE_INT32, rows, bi, &bq, err)) &&
        !(st = add_vector(g, ed, bbase, "_scale", SP_DTYPE_FLOAT, rows, bsc, &bs, err)) &&
        !(st = add_vector(g, ed, bbase, "_zero_point", SP_DTYPE_INT32, rows, NULL, &bz, err)) &&
        !(st = add_dq(g, ed, -1, bbase, bq, bs, bz, 0, &bdq, count, err)))
        st = sp_graph_set_str(&node->input[2], bdq, err);
    free(bbase);
out:
    sp_tensor_free(&b);
    free(bi);
    free(bsc);
    free(qn);
    free(sn);
    free(zn);
    free(dq);
    free(bq);
    free(bs);
    free(bz);
    free(bdq);
    free(wbase);
    return st;
}

/* True when node n reads its input k in int8 after fusion: a quantized
 * layer's data input, or an int8 op (pass-through, pooling, Add, Concat)
 * whose own output carries a pair. Every other consumer (a residual Add in
 * float, LayerNormalization, Softmax, ...) keeps reading the float tensor:
 * sending it through the DQ would only add a DequantizeLinear and put
 * rounding noise on a float path (in a transformer, the residual stream). */
static bool reads_int8(const Onnx__GraphProto *g, const struct sp_layer *l, int nl, const struct qset *s,
                       const Onnx__NodeProto *n, int node, size_t k)
{
    int li = layer_of_node(l, nl, node);
    if (li >= 0)
        return l[li].quantized && k == 0;
    if (n->n_output < 1 || !n->output[0][0])
        return false;
    if (qset_find(s, n->output[0]) >= 0)
        return true;
    return is_op(n, "Add") && qset_find(s, post_tensor(g, n->output[0])) >= 0;
}

/* Q -> DQ after the producer of t, its int8 readers redirected to the DQ
 * output. Nothing is written when no consumer reads int8. */
static enum sp_status write_activation(Onnx__GraphProto *g, struct sp_graph_edit *ed, const struct sp_layer *l,
                                       int nl, const struct qset *s, const struct qt *t, bool *written,
                                       int *count, struct sp_error *err)
{
    char *sn = NULL, *zn = NULL, *qo = NULL, *qname = NULL, *dq = NULL;
    enum sp_status st;
    bool any = false;
    for (size_t i = 0; i < g->n_node && !any; i++)
        for (size_t k = 0; k < g->node[i]->n_input && !any; k++)
            any = strcmp(g->node[i]->input[k], t->name) == 0 && reads_int8(g, l, nl, s, g->node[i], (int)i, k);
    *written = any;
    if (!any)
        return SP_OK;
    int anchor = sp_graph_producer(g, t->name);
    if ((st = add_scalar(g, ed, t->name, "_scale", SP_DTYPE_FLOAT, &t->scale, &sn, err)) ||
        (st = add_scalar(g, ed, t->name, "_zero_point", SP_DTYPE_UINT8, &t->zp, &zn, err)))
        goto out;
    qo = sp_graph_unique(g, ed, t->name, "_quantized");
    qname = sp_graph_unique(g, ed, t->name, "_QuantizeLinear");
    if (!qo || !qname) {
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *in[3] = {t->name, sn, zn};
    const char *o[1] = {qo};
    if (!sp_graph_edit_add(ed, anchor, "QuantizeLinear", qname, in, 3, o, 1, err)) {
        st = err ? err->status : SP_ERR_NOMEM;
        goto out;
    }
    (*count)++;
    if ((st = add_dq(g, ed, anchor, t->name, qo, sn, zn, -1, &dq, count, err)))
        goto out;
    for (size_t i = 0; i < g->n_node && !st; i++) {
        Onnx__NodeProto *n = g->node[i];
        for (size_t k = 0; k < n->n_input && !st; k++)
            if (strcmp(n->input[k], t->name) == 0 && reads_int8(g, l, nl, s, n, (int)i, k))
                st = sp_graph_set_str(&n->input[k], dq, err);
    }
out:
    free(sn);
    free(zn);
    free(qo);
    free(qname);
    free(dq);
    return st;
}

enum sp_status sp_qdq_rewrite(struct sp_model *model, struct sp_layer *l, int n, const struct sp_compress_stats *stats,
                              enum sp_calib_method method, double percentile, struct sp_compress_report *rep,
                              const struct sp_logger *log, struct sp_error *err)
{
    Onnx__GraphProto *g = model->proto->graph;
    struct qset s = {0};
    struct sp_graph_edit ed;
    int count = 0;
    enum sp_status st = sp_graph_edit_init(&ed, g, err);
    if (st)
        return st;
    if ((st = mark_all(g, l, n, &s, err)) || (st = choose_params(&s, stats, method, percentile, log, err)))
        goto out;
    /* Weights first: layer names borrowed from node inputs stay valid until
     * the activation pass renames those inputs. */
    for (int i = 0; i < n && !st; i++) {
        if (!l[i].quantized)
            continue;
        int xi = qset_find(&s, l[i].info.input);
        st = write_layer(g, &ed, &l[i], xi >= 0 ? &s.t[xi] : NULL, &count, log, err);
    }
    for (int i = 0; i < s.n && !st; i++)
        if (s.t[i].ok)
            st = write_activation(g, &ed, l, n, &s, &s.t[i], &s.t[i].written, &count, err);
    if (st)
        goto out;
    if ((st = sp_graph_edit_commit(&ed, err)))
        goto out;
    if (rep) {
        int k = 0;
        for (int i = 0; i < s.n; i++)
            k += s.t[i].written;
        rep->tensors = calloc(k ? (size_t)k : 1, sizeof *rep->tensors);
        if (!rep->tensors) {
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory for the report");
            goto out;
        }
        for (int i = 0; i < s.n; i++) {
            if (!s.t[i].written)
                continue;
            struct sp_compress_tensor *t = &rep->tensors[rep->n_tensors++];
            t->name = s.t[i].name;
            s.t[i].name = NULL;
            t->lo = s.t[i].lo;
            t->hi = s.t[i].hi;
            t->scale = s.t[i].scale;
            t->zero_point = s.t[i].zp;
        }
        rep->qdq_nodes = count;
    }
    sp_log(log, SP_LOG_INFO, "QDQ: %d QuantizeLinear/DequantizeLinear nodes added", count);
out:
    sp_graph_edit_free(&ed);
    qset_free(&s);
    return st;
}
