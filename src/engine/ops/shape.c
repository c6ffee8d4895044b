/*
 * Operators that compute or rearrange shapes: Shape, Size, Reshape, Flatten,
 * Squeeze, Unsqueeze, Transpose, Expand, Tile, ConstantOfShape, Range.
 *
 * Most of these only need the *values* of their shape-like inputs, which the
 * engine provides at plan time because it constant-folds Shape->Gather->Concat
 * chains. A shape-like input that is still unknown at prepare is refused with a
 * message saying so, rather than guessed. Everything is dtype-generic: data is
 * moved by element size, never interpreted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/datamove.h"

/* ---- shared helpers ------------------------------------------------------ */

static enum sp_status need_inputs(struct sp_node *n, int lo, int hi, struct sp_error *err)
{
    if (n->n_inputs < lo || n->n_inputs > hi || !sp_node_in(n, 0))
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects %d to %d inputs, got %d", lo, hi, n->n_inputs);
    if (n->n_outputs < 1 || !sp_node_out(n, 0))
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects an output");
    return SP_OK;
}

static enum sp_status need_const(struct sp_node *n, int i, const char *what, struct sp_error *err)
{
    if (!sp_node_in(n, i))
        return sp_node_error(n, err, SP_ERR_FORMAT, "input '%s' is missing", what);
    if (!sp_node_in_is_const(n, i) || !sp_node_in(n, i)->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED,
                             "input '%s' must be known at plan time (a constant or computed from shapes only); "
                             "data-dependent shapes are not supported",
                             what);
    return SP_OK;
}

/* Sets output 0 after checking the shape's size. */
static enum sp_status set_out_checked(struct sp_node *n, enum sp_dtype dt, int ndim, const int64_t *dims,
                                      struct sp_error *err)
{
    char buf[160];
    if (ndim > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank %d exceeds %d", ndim, SP_MAX_DIMS);
    size_t es = sp_dtype_size(dt);
    if (!sp_shape_checked_numel(ndim, dims, es ? es : 1, SP_DM_MAX_BYTES, NULL))
        return sp_node_error(n, err, SP_ERR_FORMAT, "output shape %s is invalid or too large",
                             sp_shape_str(ndim, dims, buf, sizeof buf));
    sp_node_set_out(n, 0, dt, ndim, dims);
    return SP_OK;
}

static enum sp_status need_known_dtype(struct sp_node *n, const struct sp_tensor *t, struct sp_error *err)
{
    if (sp_dtype_size(t->dtype) == 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input dtype %s is not supported",
                             sp_dtype_name(t->dtype));
    return SP_OK;
}

static void free_state(struct sp_node *n)
{
    free(n->state);
    n->state = NULL;
}

static void *alloc_state(struct sp_node *n, size_t size, struct sp_error *err)
{
    n->state = calloc(1, size);
    if (!n->state)
        sp_node_error(n, err, SP_ERR_NOMEM, "cannot allocate op state");
    return n->state;
}

/* ---- Shape / Size ---------------------------------------------------------- */

struct shape_state {
    int64_t start, end;
    bool has_end;
    int first, count; /* resolved at prepare */
};

static enum sp_status shape_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known15[] = {"start", "end", NULL};
    static const char *const none[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset >= 15 ? known15 : none, err);
    if (st)
        return st;
    struct shape_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if ((st = sp_attr_int(n, "start", 0, &s->start, err)) || (st = sp_attr_int(n, "end", INT64_MAX, &s->end, err)))
        return st;
    return SP_OK;
}

static enum sp_status shape_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 1, err);
    if (st)
        return st;
    struct shape_state *s = n->state;
    int r = sp_node_in(n, 0)->ndim;
    int64_t a = s->start < 0 ? s->start + r : s->start, b = s->end < 0 ? s->end + r : s->end;
    a = a < 0 ? 0 : a > r ? r : a;
    b = b < 0 ? 0 : b > r ? r : b;
    s->first = (int)a;
    s->count = b > a ? (int)(b - a) : 0;
    int64_t d = s->count;
    sp_node_set_out(n, 0, SP_DTYPE_INT64, 1, &d);
    return SP_OK;
}

/* Reads only the input's dims, never its data: the engine may fold it early. */
static enum sp_status shape_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct shape_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    int64_t *y = sp_node_out(n, 0)->data;
    for (int i = 0; i < s->count; i++)
        y[i] = x->dims[s->first + i];
    return SP_OK;
}

SP_DM_GUARDED_INIT(shape_init, free_state)
const struct sp_op sp_op_Shape = {"Shape", "", 1, 18, shape_init_guarded, shape_prepare, shape_run, free_state};

static enum sp_status size_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    return sp_attr_check_known(n, none, err);
}

static enum sp_status size_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 1, err);
    if (st)
        return st;
    sp_node_set_out(n, 0, SP_DTYPE_INT64, 0, NULL);
    return SP_OK;
}

static enum sp_status size_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    *(int64_t *)sp_node_out(n, 0)->data = sp_tensor_numel(sp_node_in(n, 0));
    return SP_OK;
}

const struct sp_op sp_op_Size = {"Size", "", 1, 18, size_init, size_prepare, size_run, NULL};

/* ---- Reshape --------------------------------------------------------------- */

static enum sp_status reshape_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known14[] = {"allowzero", NULL};
    static const char *const none[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset >= 14 ? known14 : none, err);
    if (st)
        return st;
    int64_t *allowzero = alloc_state(n, sizeof *allowzero, err);
    if (!allowzero)
        return SP_ERR_NOMEM;
    if ((st = sp_attr_int(n, "allowzero", 0, allowzero, err)))
        return st;
    return SP_OK;
}

static enum sp_status reshape_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 2, 2, err);
    if (st || (st = need_const(n, 1, "shape", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_known_dtype(n, x, err)))
        return st;
    if (sp_node_in(n, 1)->ndim != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input 'shape' must be 1-D, got rank %d",
                             sp_node_in(n, 1)->ndim);
    int64_t shape[SP_MAX_DIMS];
    int cnt;
    if ((st = sp_tensor_read_ints(n, sp_node_in(n, 1), "shape", shape, SP_MAX_DIMS, &cnt, err)))
        return st;
    bool allowzero = *(int64_t *)n->state != 0;
    int infer = -1;
    int64_t known = 1, total = sp_tensor_numel(x);
    for (int i = 0; i < cnt; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return sp_node_error(n, err, SP_ERR_FORMAT, "shape[%d] = 0 copies a dimension the input (rank %d) "
                                     "does not have", i, x->ndim);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1) {
            if (infer >= 0)
                return sp_node_error(n, err, SP_ERR_FORMAT, "shape has more than one -1");
            infer = i;
            continue;
        }
        if (shape[i] < 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "shape[%d] = %lld is invalid", i, (long long)shape[i]);
        /* Checked before multiplying: the product itself may overflow. */
        if (shape[i] > 0 && known > ((int64_t)1 << 50) / shape[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "shape is too large");
        known *= shape[i];
    }
    char b1[160], b2[160];
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "cannot reshape %s into %s",
                                 sp_shape_str(x->ndim, x->dims, b1, sizeof b1), sp_shape_str(cnt, shape, b2, sizeof b2));
        shape[infer] = total / known;
    } else if (known != total) {
        return sp_node_error(n, err, SP_ERR_MISMATCH, "cannot reshape %s (%lld elements) into %s",
                             sp_shape_str(x->ndim, x->dims, b1, sizeof b1), (long long)total,
                             sp_shape_str(cnt, shape, b2, sizeof b2));
    }
    return set_out_checked(n, x->dtype, cnt, shape, err);
}

SP_DM_GUARDED_INIT(reshape_init, free_state)
const struct sp_op sp_op_Reshape = {"Reshape", "", 5, 18, reshape_init_guarded, reshape_prepare, sp_dm_run_copy, free_state};

/* ---- Flatten --------------------------------------------------------------- */

static enum sp_status flatten_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axis", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    int64_t *axis = alloc_state(n, sizeof *axis, err);
    if (!axis)
        return SP_ERR_NOMEM;
    return sp_attr_int(n, "axis", 1, axis, err);
}

static enum sp_status flatten_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 1, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    int64_t axis = *(int64_t *)n->state, r = x->ndim;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis > r)
        return sp_node_error(n, err, SP_ERR_FORMAT, "axis %lld is out of range for rank %d",
                             (long long)*(int64_t *)n->state, x->ndim);
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++)
        d[i < axis ? 0 : 1] *= x->dims[i];
    return set_out_checked(n, x->dtype, 2, d, err);
}

SP_DM_GUARDED_INIT(flatten_init, free_state)
const struct sp_op sp_op_Flatten = {"Flatten", "", 1, 18, flatten_init_guarded, flatten_prepare, sp_dm_run_copy, free_state};

/* ---- Squeeze / Unsqueeze --------------------------------------------------- */

/* Axes come from the attribute before opset 13 and from input 1 from 13 on. */
struct axes_state {
    int64_t axes[SP_MAX_DIMS * 2];
    int n_axes;
    bool have; /* attribute given (opset < 13) */
};

static enum sp_status axes_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"axes", NULL};
    static const char *const none[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, n->opset < 13 ? known : none, err);
    if (st)
        return st;
    struct axes_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    if (n->opset < 13)
        st = sp_attr_ints(n, "axes", s->axes, SP_MAX_DIMS * 2, &s->n_axes, &s->have, err);
    return st;
}

/* Fills axes (not yet normalized); *given false when no axes at all. */
static enum sp_status axes_get(struct sp_node *n, int64_t *axes, int *cnt, bool *given, struct sp_error *err)
{
    struct axes_state *s = n->state;
    *given = false;
    *cnt = 0;
    if (n->opset < 13) {
        *given = s->have;
        *cnt = s->n_axes;
        memcpy(axes, s->axes, sizeof(int64_t) * (size_t)s->n_axes);
        return SP_OK;
    }
    if (!sp_node_in(n, 1))
        return SP_OK;
    enum sp_status st = need_const(n, 1, "axes", err);
    if (st)
        return st;
    *given = true;
    return sp_tensor_read_ints(n, sp_node_in(n, 1), "axes", axes, SP_MAX_DIMS * 2, cnt, err);
}

static enum sp_status squeeze_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 2, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    int64_t axes[SP_MAX_DIMS * 2];
    int cnt;
    bool given;
    if ((st = axes_get(n, axes, &cnt, &given, err)))
        return st;
    bool drop[SP_MAX_DIMS] = {false};
    if (!given) {
        for (int i = 0; i < x->ndim; i++)
            drop[i] = x->dims[i] == 1;
    }
    for (int i = 0; i < cnt; i++) {
        int a;
        if ((st = sp_axis_normalize(n, axes[i], x->ndim, &a, err)))
            return st;
        if (x->dims[a] != 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "cannot squeeze axis %lld of size %lld",
                                 (long long)axes[i], (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t d[SP_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i])
            d[r++] = x->dims[i];
    return set_out_checked(n, x->dtype, r, d, err);
}

SP_DM_GUARDED_INIT(axes_init, free_state)
const struct sp_op sp_op_Squeeze = {"Squeeze", "", 1, 18, axes_init_guarded, squeeze_prepare, sp_dm_run_copy, free_state};

static enum sp_status unsqueeze_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 2, err);
    if (st)
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    int64_t axes[SP_MAX_DIMS * 2];
    int cnt;
    bool given;
    if ((st = axes_get(n, axes, &cnt, &given, err)))
        return st;
    if (!given || cnt == 0)
        return sp_node_error(n, err, SP_ERR_FORMAT, "'axes' is required");
    int r = x->ndim + cnt;
    if (r > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, SP_MAX_DIMS);
    bool ins[SP_MAX_DIMS] = {false};
    for (int i = 0; i < cnt; i++) {
        int a;
        if ((st = sp_axis_normalize(n, axes[i], r, &a, err)))
            return st;
        if (ins[a])
            return sp_node_error(n, err, SP_ERR_FORMAT, "axis %lld is repeated", (long long)axes[i]);
        ins[a] = true;
    }
    int64_t d[SP_MAX_DIMS];
    for (int i = 0, j = 0; i < r; i++)
        d[i] = ins[i] ? 1 : x->dims[j++];
    return set_out_checked(n, x->dtype, r, d, err);
}

const struct sp_op sp_op_Unsqueeze = {"Unsqueeze", "", 1, 18,
    axes_init_guarded, unsqueeze_prepare, sp_dm_run_copy, free_state};

/* ---- Transpose ------------------------------------------------------------- */

struct transpose_state {
    int64_t perm[SP_MAX_DIMS];
    int n_perm;
    bool have;
    int64_t src_stride[SP_MAX_DIMS]; /* per output axis, set at prepare */
};

static enum sp_status transpose_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"perm", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct transpose_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    return sp_attr_ints(n, "perm", s->perm, SP_MAX_DIMS, &s->n_perm, &s->have, err);
}

static enum sp_status transpose_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 1, err);
    if (st)
        return st;
    struct transpose_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_known_dtype(n, x, err)))
        return st;
    int r = x->ndim;
    int64_t perm[SP_MAX_DIMS];
    if (s->have) {
        if (s->n_perm != r)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "perm has %d entries for an input of rank %d", s->n_perm, r);
        bool seen[SP_MAX_DIMS] = {false};
        for (int i = 0; i < r; i++) {
            int64_t p = s->perm[i] < 0 ? s->perm[i] + r : s->perm[i];
            if (p < 0 || p >= r || seen[p])
                return sp_node_error(n, err, SP_ERR_FORMAT, "perm is not a permutation of 0..%d", r - 1);
            seen[p] = true;
            perm[i] = p;
        }
    } else {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
    }
    int64_t in_stride[SP_MAX_DIMS], d[SP_MAX_DIMS];
    sp_dm_strides(r, x->dims, in_stride);
    for (int i = 0; i < r; i++) {
        d[i] = x->dims[perm[i]];
        s->src_stride[i] = in_stride[perm[i]];
    }
    return set_out_checked(n, x->dtype, r, d, err);
}

static enum sp_status transpose_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct transpose_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    sp_dm_strided_copy(y->data, x->data, sp_dtype_size(x->dtype), y->ndim, y->dims, s->src_stride);
    return SP_OK;
}

SP_DM_GUARDED_INIT(transpose_init, free_state)
const struct sp_op sp_op_Transpose = {"Transpose", "", 1, 18,
    transpose_init_guarded, transpose_prepare, transpose_run, free_state};

/* ---- Expand ---------------------------------------------------------------- */

/* Strides into the input for each output axis (0 where broadcast). */
struct bcast_state {
    int64_t src_stride[SP_MAX_DIMS];
};

static enum sp_status noattr_state_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    enum sp_status st = sp_attr_check_known(n, none, err);
    if (st)
        return st;
    return alloc_state(n, sizeof(struct bcast_state), err) ? SP_OK : SP_ERR_NOMEM;
}

static enum sp_status expand_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 2, 2, err);
    if (st || (st = need_const(n, 1, "shape", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_known_dtype(n, x, err)))
        return st;
    int64_t shape[SP_MAX_DIMS];
    int cnt;
    if ((st = sp_tensor_read_ints(n, sp_node_in(n, 1), "shape", shape, SP_MAX_DIMS, &cnt, err)))
        return st;
    int r = cnt > x->ndim ? cnt : x->ndim;
    int64_t d[SP_MAX_DIMS], in_stride[SP_MAX_DIMS];
    sp_dm_strides(x->ndim, x->dims, in_stride);
    struct bcast_state *s = n->state;
    char b1[160], b2[160];
    for (int i = 0; i < r; i++) {
        int xi = i - (r - x->ndim), si = i - (r - cnt);
        int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? shape[si] : 1;
        if (b < 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "shape has a negative dimension");
        if (a != b && a != 1 && b != 1)
            return sp_node_error(n, err, SP_ERR_MISMATCH, "cannot broadcast %s to %s",
                                 sp_shape_str(x->ndim, x->dims, b1, sizeof b1), sp_shape_str(cnt, shape, b2, sizeof b2));
        d[i] = a == 1 ? b : a;
        s->src_stride[i] = (xi >= 0 && a != 1) ? in_stride[xi] : 0;
    }
    return set_out_checked(n, x->dtype, r, d, err);
}

static enum sp_status expand_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct bcast_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    sp_dm_strided_copy(y->data, x->data, sp_dtype_size(x->dtype), y->ndim, y->dims, s->src_stride);
    return SP_OK;
}

SP_DM_GUARDED_INIT(noattr_state_init, free_state)
const struct sp_op sp_op_Expand = {"Expand", "", 8, 18,
    noattr_state_init_guarded, expand_prepare, expand_run, free_state};

/* ---- Tile ------------------------------------------------------------------ */

static enum sp_status tile_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 2, 2, err);
    if (st || (st = need_const(n, 1, "repeats", err)))
        return st;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if ((st = need_known_dtype(n, x, err)))
        return st;
    int64_t rep[SP_MAX_DIMS];
    int cnt;
    if ((st = sp_tensor_read_ints(n, sp_node_in(n, 1), "repeats", rep, SP_MAX_DIMS, &cnt, err)))
        return st;
    if (cnt != x->ndim)
        return sp_node_error(n, err, SP_ERR_MISMATCH, "repeats has %d values for an input of rank %d", cnt, x->ndim);
    int64_t d[SP_MAX_DIMS];
    for (int i = 0; i < cnt; i++) {
        if (rep[i] < 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "repeats[%d] = %lld is negative", i, (long long)rep[i]);
        if (rep[i] > 0 && x->dims[i] > ((int64_t)1 << 50) / rep[i])
            return sp_node_error(n, err, SP_ERR_FORMAT, "output is too large");
        d[i] = x->dims[i] * rep[i];
    }
    return set_out_checked(n, x->dtype, cnt, d, err);
}

/*
 * Output row (all axes but the last) r maps to input row (k mod in_dims); the
 * row itself is the input row repeated. Rows are walked with a counter so run
 * needs no division per element.
 */
static enum sp_status tile_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(x->dtype);
    if (sp_tensor_numel(y) == 0)
        return SP_OK;
    if (x->ndim == 0) {
        memcpy(y->data, x->data, es);
        return SP_OK;
    }
    int r = x->ndim;
    int64_t in_stride[SP_MAX_DIMS], k[SP_MAX_DIMS] = {0}, ik[SP_MAX_DIMS] = {0};
    sp_dm_strides(r, x->dims, in_stride);
    int64_t inlen = x->dims[r - 1], reps = y->dims[r - 1] / (inlen ? inlen : 1);
    size_t rowbytes = (size_t)inlen * es;
    int64_t rows = sp_tensor_numel(y) / y->dims[r - 1];
    char *out = y->data;
    const char *in = x->data;
    int64_t off = 0;
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t t = 0; t < reps; t++, out += rowbytes)
            memcpy(out, in + (size_t)off * es, rowbytes);
        for (int i = r - 2; i >= 0; i--) {
            k[i]++;
            if (++ik[i] == x->dims[i])
                ik[i] = 0;
            if (k[i] < y->dims[i])
                break;
            k[i] = 0;
            ik[i] = 0;
        }
        off = 0;
        for (int i = 0; i < r - 1; i++)
            off += ik[i] * in_stride[i];
    }
    return SP_OK;
}

const struct sp_op sp_op_Tile = {"Tile", "", 6, 18, noattr_state_init_guarded, tile_prepare, tile_run, free_state};

/* ---- ConstantOfShape -------------------------------------------------------- */

struct cos_state {
    enum sp_dtype dtype;
    unsigned char value[16];
};

static enum sp_status cos_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known[] = {"value", NULL};
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct cos_state *s = alloc_state(n, sizeof *s, err);
    if (!s)
        return SP_ERR_NOMEM;
    s->dtype = SP_DTYPE_FLOAT; /* value bytes are zero: float 0 */
    if (sp_attr_find(n, "value"))
        return sp_ops_scalar_attr(n, "value", &s->dtype, s->value, err);
    return SP_OK;
}

static enum sp_status cos_prepare(struct sp_node *n, struct sp_error *err)
{
    enum sp_status st = need_inputs(n, 1, 1, err);
    if (st || (st = need_const(n, 0, "input", err)))
        return st;
    const struct sp_tensor *shp = sp_node_in(n, 0);
    if (shp->ndim != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "the shape input must be 1-D");
    if (shp->dtype != SP_DTYPE_INT64)
        return sp_node_error(n, err, SP_ERR_FORMAT, "the shape input must be int64, got %s", sp_dtype_name(shp->dtype));
    int64_t d[SP_MAX_DIMS];
    int cnt;
    if ((st = sp_tensor_read_ints(n, shp, "input", d, SP_MAX_DIMS, &cnt, err)))
        return st;
    struct cos_state *s = n->state;
    return set_out_checked(n, s->dtype, cnt, d, err);
}

static enum sp_status cos_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct cos_state *s = n->state;
    struct sp_tensor *y = sp_node_out(n, 0);
    size_t es = sp_dtype_size(s->dtype);
    int64_t cnt = sp_tensor_numel(y);
    char *p = y->data;
    bool zero = true;
    for (size_t i = 0; i < es; i++)
        zero = zero && s->value[i] == 0;
    if (zero) {
        memset(p, 0, (size_t)cnt * es);
        return SP_OK;
    }
    for (int64_t i = 0; i < cnt; i++)
        memcpy(p + (size_t)i * es, s->value, es);
    return SP_OK;
}

SP_DM_GUARDED_INIT(cos_init, free_state)
const struct sp_op sp_op_ConstantOfShape = {"ConstantOfShape", "", 9, 18,
    cos_init_guarded, cos_prepare, cos_run, free_state};

/* ---- Range ----------------------------------------------------------------- */

static double scalar_as_double(const struct sp_tensor *t)
{
    switch (t->dtype) {
    case SP_DTYPE_FLOAT: return *(const float *)t->data;
    case SP_DTYPE_DOUBLE: return *(const double *)t->data;
    case SP_DTYPE_INT16: return *(const int16_t *)t->data;
    case SP_DTYPE_INT32: return *(const int32_t *)t->data;
    case SP_DTYPE_INT64: return (double)*(const int64_t *)t->data;
    default: return 0;
    }
}

static int64_t scalar_as_int(const struct sp_tensor *t)
{
    switch (t->dtype) {
    case SP_DTYPE_INT16: return *(const int16_t *)t->data;
    case SP_DTYPE_INT32: return *(const int32_t *)t->data;
    case SP_DTYPE_INT64: return *(const int64_t *)t->data;
    default: return 0;
    }
}

static enum sp_status range_prepare(struct sp_node *n, struct sp_error *err)
{
    static const char *const names[] = {"start", "limit", "delta"};
    enum sp_status st = need_inputs(n, 3, 3, err);
    if (st)
        return st;
    enum sp_dtype dt = sp_node_in(n, 0)->dtype;
    if (dt != SP_DTYPE_FLOAT && dt != SP_DTYPE_DOUBLE && dt != SP_DTYPE_INT16 && dt != SP_DTYPE_INT32 &&
        dt != SP_DTYPE_INT64)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "dtype %s is not supported", sp_dtype_name(dt));
    for (int i = 0; i < 3; i++) {
        if ((st = need_const(n, i, names[i], err)))
            return st;
        const struct sp_tensor *t = sp_node_in(n, i);
        if (t->dtype != dt || sp_tensor_numel(t) != 1)
            return sp_node_error(n, err, SP_ERR_FORMAT, "input '%s' must be a %s scalar", names[i], sp_dtype_name(dt));
    }
    int64_t count;
    if (dt == SP_DTYPE_FLOAT || dt == SP_DTYPE_DOUBLE) {
        double a = scalar_as_double(sp_node_in(n, 0)), b = scalar_as_double(sp_node_in(n, 1));
        double c = scalar_as_double(sp_node_in(n, 2));
        if (c == 0 || !isfinite(a) || !isfinite(b) || !isfinite(c))
            return sp_node_error(n, err, SP_ERR_FORMAT, "start, limit and delta must be finite and delta non-zero");
        double q = ceil((b - a) / c);
        if (q > (double)((int64_t)1 << 40))
            return sp_node_error(n, err, SP_ERR_FORMAT, "range has too many elements");
        count = q > 0 ? (int64_t)q : 0;
    } else {
        int64_t a = scalar_as_int(sp_node_in(n, 0)), b = scalar_as_int(sp_node_in(n, 1));
        int64_t c = scalar_as_int(sp_node_in(n, 2));
        if (c == 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "delta must be non-zero");
        double q = ceil(((double)b - (double)a) / (double)c);
        if (q > (double)((int64_t)1 << 40))
            return sp_node_error(n, err, SP_ERR_FORMAT, "range has too many elements");
        count = q > 0 ? (int64_t)q : 0;
    }
    return set_out_checked(n, dt, 1, &count, err);
}

/* Element i is start + i*delta, computed in the input type as the spec's loop does. */
static enum sp_status range_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    const struct sp_tensor *t0 = sp_node_in(n, 0), *t2 = sp_node_in(n, 2);
    struct sp_tensor *y = sp_node_out(n, 0);
    int64_t cnt = y->dims[0];
    switch (y->dtype) {
    case SP_DTYPE_FLOAT: {
        float a = *(const float *)t0->data, c = *(const float *)t2->data, *p = y->data;
        for (int64_t i = 0; i < cnt; i++)
            p[i] = a + (float)i * c;
        break;
    }
    case SP_DTYPE_DOUBLE: {
        double a = *(const double *)t0->data, c = *(const double *)t2->data, *p = y->data;
        for (int64_t i = 0; i < cnt; i++)
            p[i] = a + (double)i * c;
        break;
    }
    default: {
        int64_t a = scalar_as_int(t0), c = scalar_as_int(t2);
        for (int64_t i = 0; i < cnt; i++) {
            int64_t v = a + i * c;
            if (y->dtype == SP_DTYPE_INT16)
                ((int16_t *)y->data)[i] = (int16_t)v;
            else if (y->dtype == SP_DTYPE_INT32)
                ((int32_t *)y->data)[i] = (int32_t)v;
            else
                ((int64_t *)y->data)[i] = v;
        }
        break;
    }
    }
    return SP_OK;
}

static enum sp_status range_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const none[] = {NULL};
    return sp_attr_check_known(n, none, err);
}

const struct sp_op sp_op_Range = {"Range", "", 11, 18, range_init, range_prepare, range_run, NULL};
