/*
 * Resize (opsets 10-18) and its predecessor Upsample (7-9): the upsampling heads
 * of segmentation models, FPNs and YOLO necks.
 *
 * Each axis is planned on its own at prepare: for every output coordinate, the
 * input indices it reads and their weights (1 tap for nearest, 2 for linear, 4
 * for cubic), following the spec's coordinate transformations. Interpolation is
 * separable, so run applies one axis at a time, skipping axes whose plan is the
 * identity; nearest needs no arithmetic and moves bytes for any dtype.
 * tf_crop_and_resize marks output coordinates that fall outside the input per
 * axis; a pass writes the extrapolation value there, and later passes along
 * other axes only mix such constant rows with weights summing to one. The one
 * mode sparsify does not implement (antialias) fails at init.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attr.h"
#include "engine/op.h"
#include "engine/ops/datamove.h"

enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum rs_ctm {
    CTM_HALF_PIXEL,
    CTM_PYTORCH_HALF_PIXEL,
    CTM_ALIGN_CORNERS,
    CTM_ASYMMETRIC,
    CTM_TF_HALF_PIXEL_FOR_NN,
    CTM_TF_CROP_AND_RESIZE
};
enum rs_nearest { NR_ROUND_PREFER_FLOOR, NR_ROUND_PREFER_CEIL, NR_FLOOR, NR_CEIL, NR_SIMPLE };
enum rs_policy { KP_STRETCH, KP_NOT_LARGER, KP_NOT_SMALLER };

struct rs_axis {
    int64_t in, out;
    bool identity;
    double roi_start, roi_end; /* tf_crop_and_resize only */
    double len_resized;        /* in * scale, unfloored, when scales are given; else out */
    uint8_t *outside;          /* out flags: coordinate outside the input (tf_crop_and_resize), owned */
    int64_t *idx; /* out * taps, owned */
    float *w;     /* out * taps, owned (NULL for nearest) */
};

struct rs_state {
    bool upsample;
    enum rs_mode mode;
    enum rs_ctm ctm;
    enum rs_nearest nearest;
    enum rs_policy policy;
    float cubic_a;
    bool exclude_outside;
    float extrapolation_value;
    float attr_scales[SP_MAX_DIMS]; /* Upsample-7 */
    int n_attr_scales;
    int64_t axes[SP_MAX_DIMS]; /* opset 18 */
    int n_axes;
    bool have_axes;
    int taps;
    struct rs_axis ax[SP_MAX_DIMS];
    int order[SP_MAX_DIMS], n_passes; /* axes to interpolate, in run order */
};

static void rs_free(struct sp_node *n)
{
    struct rs_state *s = n->state;
    if (s)
        for (int i = 0; i < SP_MAX_DIMS; i++) {
            free(s->ax[i].idx);
            free(s->ax[i].w);
            free(s->ax[i].outside);
        }
    free(s);
    n->state = NULL;
}

static enum sp_status pick(struct sp_node *n, const char *attr, const char *dflt, const char *const *names, int count,
                           int *out, struct sp_error *err)
{
    char buf[64];
    enum sp_status st = sp_attr_string(n, attr, dflt, buf, sizeof buf, err);
    if (st)
        return st;
    for (int i = 0; i < count; i++)
        if (strcmp(buf, names[i]) == 0) {
            *out = i;
            return SP_OK;
        }
    return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%s '%s' is not supported", attr, buf);
}

static enum sp_status rs_init(struct sp_node *n, struct sp_error *err)
{
    static const char *const known_up7[] = {"mode", "scales", NULL};
    static const char *const known_up9[] = {"mode", NULL};
    static const char *const known10[] = {"mode", NULL};
    static const char *const known11[] = {"mode", "coordinate_transformation_mode", "cubic_coeff_a",
                                          "exclude_outside", "extrapolation_value", "nearest_mode", NULL};
    static const char *const known18[] = {"mode", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                                          "extrapolation_value", "nearest_mode", "antialias", "axes",
                                          "keep_aspect_ratio_policy", NULL};
    bool up = strcmp(n->proto->op_type, "Upsample") == 0;
    const char *const *known = up ? (n->opset < 9 ? known_up7 : known_up9)
                                  : n->opset < 11 ? known10 : n->opset < 18 ? known11 : known18;
    enum sp_status st = sp_attr_check_known(n, known, err);
    if (st)
        return st;
    struct rs_state *s = calloc(1, sizeof *s);
    if (!(n->state = s))
        return sp_node_error(n, err, SP_ERR_NOMEM, "cannot allocate op state");
    s->upsample = up;
    int v = 0;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const up_modes[] = {"nearest", "linear", "bilinear"};
    if ((st = pick(n, "mode", "nearest", up ? up_modes : modes, 3, &v, err)))
        return st;
    s->mode = up ? (v == 0 ? RS_NEAREST : RS_LINEAR) : (enum rs_mode)v;
    if (up || n->opset < 11) {
        /* Upsample and Resize-10: asymmetric coordinates, nearest rounds down
         * when enlarging (ONNX Runtime rounds up when shrinking). */
        s->ctm = CTM_ASYMMETRIC;
        s->nearest = NR_SIMPLE;
        if (up && n->opset < 9) {
            bool have;
            if ((st = sp_attr_floats(n, "scales", s->attr_scales, SP_MAX_DIMS, &s->n_attr_scales, &have, err)))
                return st;
            if (!have)
                return sp_node_error(n, err, SP_ERR_FORMAT, "attribute 'scales' is required");
        }
    } else {
        static const char *const ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                           "tf_half_pixel_for_nn", "tf_crop_and_resize"};
        if ((st = pick(n, "coordinate_transformation_mode", "half_pixel", ctms, 6, &v, err)))
            return st;
        s->ctm = (enum rs_ctm)v;
        static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        if ((st = pick(n, "nearest_mode", "round_prefer_floor", nms, 4, &v, err)))
            return st;
        s->nearest = (enum rs_nearest)v;
        int64_t excl, anti;
        if ((st = sp_attr_float(n, "cubic_coeff_a", -0.75f, &s->cubic_a, err)) ||
            (st = sp_attr_float(n, "extrapolation_value", 0.0f, &s->extrapolation_value, err)) ||
            (st = sp_attr_int(n, "exclude_outside", 0, &excl, err)) ||
            (st = sp_attr_int(n, "antialias", 0, &anti, err)))
            return st;
        s->exclude_outside = excl != 0;
        if (anti)
            return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "antialias = %lld is not supported", (long long)anti);
        static const char *const pols[] = {"stretch", "not_larger", "not_smaller"};
        if ((st = pick(n, "keep_aspect_ratio_policy", "stretch", pols, 3, &v, err)))
            return st;
        s->policy = (enum rs_policy)v;
        if ((st = sp_attr_ints(n, "axes", s->axes, SP_MAX_DIMS, &s->n_axes, &s->have_axes, err)))
            return st;
    }
    s->taps = s->mode == RS_NEAREST ? 1 : s->mode == RS_LINEAR ? 2 : 4;
    return SP_OK;
}

/* Reads a float tensor input (scales) known at plan time; *count 0 if absent or empty. */
static enum sp_status read_scales(struct sp_node *n, int i, float *out, int *count, struct sp_error *err)
{
    const struct sp_tensor *t = sp_node_in(n, i);
    *count = 0;
    if (!t || sp_tensor_numel(t) == 0)
        return SP_OK;
    if (!sp_node_in_is_const(n, i) || !t->data)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input 'scales' must be known at plan time");
    if (t->dtype != SP_DTYPE_FLOAT || t->ndim != 1)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input 'scales' must be a 1-D float tensor");
    if (t->dims[0] > SP_MAX_DIMS)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input 'scales' has too many values");
    memcpy(out, t->data, sizeof(float) * (size_t)t->dims[0]);
    *count = (int)t->dims[0];
    return SP_OK;
}

/*
 * Input coordinate of output coordinate o, per the spec's formulas. Computed in
 * float32 like ONNX Runtime: with scale 0.6f, 3 / 0.6f is exactly 5 in float
 * but 4.9999998 in double, and nearest_mode=floor would then pick another
 * pixel. For align_corners and tf_crop_and_resize, length_resized is
 * input * scale unfloored when scales are given: the spec's authors confirmed
 * that is intended (onnx/onnx#2462) and the backend tests expect it. ONNX
 * Runtime uses the floored length there, so the two differ only for those two
 * modes with a non-integer in * scale.
 */
static double rs_coord(const struct rs_state *s, const struct rs_axis *a, int64_t o, double scale, int64_t in,
                       int64_t out)
{
    float xo = (float)o, sc = (float)scale, lin = (float)(in - 1), lout = (float)(a->len_resized - 1);
    switch (s->ctm) {
    case CTM_TF_CROP_AND_RESIZE: {
        float lo = (float)a->roi_start, hi = (float)a->roi_end;
        return a->len_resized > 1 ? lo * lin + xo * (hi - lo) * lin / lout : 0.5f * (lo + hi) * lin;
    }
    case CTM_HALF_PIXEL: return (xo + 0.5f) / sc - 0.5f;
    case CTM_PYTORCH_HALF_PIXEL: return out > 1 ? (xo + 0.5f) / sc - 0.5f : 0.0f;
    case CTM_ALIGN_CORNERS: return a->len_resized == 1 ? 0.0f : xo * lin / lout;
    case CTM_TF_HALF_PIXEL_FOR_NN: return (xo + 0.5f) / sc;
    case CTM_ASYMMETRIC:
    default: return xo / sc;
    }
}

/* floor(v) as an output extent; NaN, negative and absurd values are refused
 * (a cast of those to int64 is undefined). */
static enum sp_status rs_extent(struct sp_node *n, double v, int64_t *out, struct sp_error *err)
{
    if (!(v >= 0) || v > 4e18)
        return sp_node_error(n, err, SP_ERR_FORMAT, "output extent %g is out of range", v);
    *out = (int64_t)floor(v);
    return SP_OK;
}

static int64_t rs_round(const struct rs_state *s, double x, double scale)
{
    /* A hostile roi can put x anywhere (or at NaN); callers clamp the index
     * to the input, so only the conversion must stay defined. */
    if (!(x > -1e15))
        x = -1e15;
    else if (x > 1e15)
        x = 1e15;
    double f = floor(x);
    switch (s->nearest) {
    case NR_ROUND_PREFER_FLOOR: return (x - f == 0.5) ? (int64_t)f : (int64_t)floor(x + 0.5);
    case NR_ROUND_PREFER_CEIL: return (int64_t)floor(x + 0.5);
    case NR_FLOOR: return (int64_t)f;
    case NR_CEIL: return (int64_t)ceil(x);
    case NR_SIMPLE:
    default: return scale < 1 ? (int64_t)ceil(x) : (int64_t)f;
    }
}

/* Keys' cubic convolution weights for the 4 taps at distance 1+r, r, 1-r, 2-r. */
static void cubic_weights(double a, double r, double *c)
{
    double t0 = 1 + r, t1 = r, t2 = 1 - r, t3 = 2 - r;
    c[0] = ((a * t0 - 5 * a) * t0 + 8 * a) * t0 - 4 * a;
    c[1] = ((a + 2) * t1 - (a + 3)) * t1 * t1 + 1;
    c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

static enum sp_status plan_axis(struct sp_node *n, struct rs_state *s, struct rs_axis *a, double scale,
                                struct sp_error *err)
{
    int K = s->taps;
    free(a->idx);
    free(a->w);
    free(a->outside);
    a->w = NULL;
    a->outside = NULL;
    if (s->ctm == CTM_TF_CROP_AND_RESIZE && !(a->outside = calloc(1, (size_t)a->out + 1)))
        return sp_node_error(n, err, SP_ERR_NOMEM, "cannot allocate the resize plan");
    a->idx = malloc(sizeof(int64_t) * (size_t)(a->out * K + 1));
    if (s->mode != RS_NEAREST)
        a->w = malloc(sizeof(float) * (size_t)(a->out * K + 1));
    if (!a->idx || (s->mode != RS_NEAREST && !a->w))
        return sp_node_error(n, err, SP_ERR_NOMEM, "cannot allocate the resize plan");
    a->identity = a->in == a->out;
    for (int64_t o = 0; o < a->out; o++) {
        double x = rs_coord(s, a, o, scale, a->in, a->out);
        if (s->ctm == CTM_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(a->in - 1))) {
            a->outside[o] = 1;
            a->identity = false;
        }
        int64_t *ix = a->idx + o * K;
        if (s->mode == RS_NEAREST) {
            int64_t i = rs_round(s, x, scale);
            ix[0] = i < 0 ? 0 : i >= a->in ? a->in - 1 : i;
            a->identity = a->identity && ix[0] == o;
            continue;
        }
        double x0 = floor(x), r = x - x0, c[4];
        int64_t first;
        if (s->mode == RS_LINEAR) {
            c[0] = 1 - r, c[1] = r;
            first = (int64_t)x0;
        } else {
            cubic_weights(s->cubic_a, r, c);
            first = (int64_t)x0 - 1;
        }
        double sum = 0;
        for (int k = 0; k < K; k++) {
            int64_t i = first + k;
            if (i < 0 || i >= a->in) {
                if (s->exclude_outside)
                    c[k] = 0;
                i = i < 0 ? 0 : a->in - 1;
            }
            ix[k] = i;
            sum += c[k];
        }
        float *w = a->w + o * K;
        bool ident = true;
        for (int k = 0; k < K; k++) {
            w[k] = (float)(s->exclude_outside && sum != 0 ? c[k] / sum : c[k]);
            if (w[k] != 0)
                ident = ident && ix[k] == o && w[k] == 1.0f;
        }
        a->identity = a->identity && ident;
    }
    return SP_OK;
}

static enum sp_status rs_prepare(struct sp_node *n, struct sp_error *err)
{
    struct rs_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    if (!x || n->n_outputs < 1 || !sp_node_out(n, 0))
        return sp_node_error(n, err, SP_ERR_FORMAT, "expects input X and an output");
    int r = x->ndim;
    if (sp_dtype_size(x->dtype) == 0)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "dtype %s is not supported", sp_dtype_name(x->dtype));
    if (s->mode != RS_NEAREST && x->dtype != SP_DTYPE_FLOAT)
        return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "%s interpolation of %s is not supported (float32 only)",
                             s->mode == RS_LINEAR ? "linear" : "cubic", sp_dtype_name(x->dtype));
    if (r == 0)
        return sp_node_error(n, err, SP_ERR_FORMAT, "input must have rank >= 1");
    double scale[SP_MAX_DIMS], len[SP_MAX_DIMS];
    int64_t out[SP_MAX_DIMS];
    float sc[SP_MAX_DIMS];
    int nsc = 0;
    enum sp_status st;
    bool old = s->upsample || n->opset < 11;
    if (old) {
        if (s->upsample && n->opset < 9) {
            memcpy(sc, s->attr_scales, sizeof sc);
            nsc = s->n_attr_scales;
        } else if ((st = read_scales(n, 1, sc, &nsc, err))) {
            return st;
        }
        if (nsc != r)
            return sp_node_error(n, err, SP_ERR_FORMAT, "scales has %d values for an input of rank %d", nsc, r);
        for (int i = 0; i < r; i++) {
            if (!(sc[i] > 0) || !isfinite(sc[i]) || (s->upsample && sc[i] < 1))
                return sp_node_error(n, err, SP_ERR_FORMAT, "scales[%d] = %g is invalid", i, sc[i]);
            scale[i] = sc[i];
            if ((st = rs_extent(n, (double)x->dims[i] * sc[i], &out[i], err)))
                return st;
            len[i] = (double)x->dims[i] * sc[i];
        }
    } else {
        int64_t axes[SP_MAX_DIMS];
        int na = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
        if (s->have_axes) {
            na = s->n_axes;
            bool seen[SP_MAX_DIMS] = {false};
            for (int i = 0; i < na; i++) {
                int a;
                if ((st = sp_axis_normalize(n, s->axes[i], r, &a, err)))
                    return st;
                if (seen[a])
                    return sp_node_error(n, err, SP_ERR_FORMAT, "axes repeats axis %d", a);
                seen[a] = true;
                axes[i] = a;
            }
        }
        for (int i = 0; i < r; i++) {
            scale[i] = 1;
            out[i] = x->dims[i];
            len[i] = (double)out[i];
            s->ax[i].roi_start = 0;
            s->ax[i].roi_end = 1;
        }
        if (s->ctm == CTM_TF_CROP_AND_RESIZE) {
            const struct sp_tensor *roi = sp_node_in(n, 1);
            if (!roi || !sp_node_in_is_const(n, 1) || !roi->data)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED,
                                     "tf_crop_and_resize needs input 'roi' known at plan time");
            if (roi->dtype != SP_DTYPE_FLOAT && roi->dtype != SP_DTYPE_DOUBLE)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "roi of dtype %s is not supported",
                                     sp_dtype_name(roi->dtype));
            if (sp_tensor_numel(roi) != 2 * na)
                return sp_node_error(n, err, SP_ERR_FORMAT, "roi has %lld values, expected %d",
                                     (long long)sp_tensor_numel(roi), 2 * na);
            if (x->dtype != SP_DTYPE_FLOAT)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "tf_crop_and_resize of %s is not supported (float32 only)",
                                     sp_dtype_name(x->dtype));
            for (int i = 0; i < na; i++) {
                bool f = roi->dtype == SP_DTYPE_FLOAT;
                double lo = f ? ((const float *)roi->data)[i] : ((const double *)roi->data)[i];
                double hi = f ? ((const float *)roi->data)[i + na] : ((const double *)roi->data)[i + na];
                s->ax[axes[i]].roi_start = lo;
                s->ax[axes[i]].roi_end = hi;
            }
        }
        if ((st = read_scales(n, 2, sc, &nsc, err)))
            return st;
        const struct sp_tensor *sz = sp_node_in(n, 3);
        bool have_sizes = sz && sp_tensor_numel(sz) > 0;
        if ((nsc > 0) == have_sizes)
            return sp_node_error(n, err, SP_ERR_FORMAT, "exactly one of 'scales' and 'sizes' must be given");
        if (nsc > 0) {
            if (nsc != na)
                return sp_node_error(n, err, SP_ERR_FORMAT, "scales has %d values, expected %d", nsc, na);
            for (int i = 0; i < na; i++) {
                if (!(sc[i] > 0) || !isfinite(sc[i]))
                    return sp_node_error(n, err, SP_ERR_FORMAT, "scales[%d] = %g is invalid", i, sc[i]);
                int64_t a = axes[i];
                scale[a] = sc[i];
                if ((st = rs_extent(n, (double)x->dims[a] * (s->ax[a].roi_end - s->ax[a].roi_start) * sc[i],
                                    &out[a], err)))
                    return st;
                len[a] = (double)x->dims[a] * sc[i];
            }
        } else {
            int64_t sizes[SP_MAX_DIMS];
            int ns;
            if (!sp_node_in_is_const(n, 3) || !sz->data)
                return sp_node_error(n, err, SP_ERR_UNSUPPORTED, "input 'sizes' must be known at plan time");
            if ((st = sp_tensor_read_ints(n, sz, "sizes", sizes, SP_MAX_DIMS, &ns, err)))
                return st;
            if (ns != na)
                return sp_node_error(n, err, SP_ERR_FORMAT, "sizes has %d values, expected %d", ns, na);
            double common = s->policy == KP_NOT_LARGER ? INFINITY : 0;
            for (int i = 0; i < na; i++) {
                int64_t a = axes[i];
                if (sizes[i] < 0 || x->dims[a] == 0)
                    return sp_node_error(n, err, SP_ERR_FORMAT, "sizes[%d] = %lld is invalid", i, (long long)sizes[i]);
                double q = (double)sizes[i] / (double)x->dims[a];
                common = s->policy == KP_NOT_LARGER ? fmin(common, q) : fmax(common, q);
                out[a] = sizes[i];
                len[a] = (double)sizes[i];
                scale[a] = q;
            }
            if (s->policy != KP_STRETCH)
                for (int i = 0; i < na; i++) {
                    int64_t a = axes[i];
                    scale[a] = common;
                    if ((st = rs_extent(n, common * (double)x->dims[a] + 0.5, &out[a], err)))
                        return st;
                    len[a] = (double)out[a];
                }
        }
    }
    char buf[160];
    if (!sp_shape_checked_numel(r, out, sp_dtype_size(x->dtype), SP_DM_MAX_BYTES, NULL))
        return sp_node_error(n, err, SP_ERR_FORMAT, "output shape %s is invalid or too large",
                             sp_shape_str(r, out, buf, sizeof buf));
    for (int i = 0; i < r; i++) {
        if (out[i] > 0 && x->dims[i] == 0)
            return sp_node_error(n, err, SP_ERR_FORMAT, "cannot resize the empty axis %d to %lld", i, (long long)out[i]);
        s->ax[i].in = x->dims[i];
        s->ax[i].out = out[i];
        s->ax[i].len_resized = len[i];
        if ((st = plan_axis(n, s, &s->ax[i], scale[i], err)))
            return st;
    }
    /* Interpolation order: shrinking axes first keeps intermediates small. */
    s->n_passes = 0;
    for (int i = 0; i < r; i++)
        if (!s->ax[i].identity)
            s->order[s->n_passes++] = i;
    for (int i = 1; i < s->n_passes; i++)
        for (int j = i; j > 0; j--) {
            const struct rs_axis *p = &s->ax[s->order[j - 1]], *q = &s->ax[s->order[j]];
            if ((double)q->out * (double)p->in < (double)p->out * (double)q->in) {
                int t = s->order[j];
                s->order[j] = s->order[j - 1];
                s->order[j - 1] = t;
            }
        }
    n->scratch_bytes = 0;
    if (s->mode != RS_NEAREST && s->n_passes > 1) {
        int64_t cur[SP_MAX_DIMS], big = 0;
        memcpy(cur, x->dims, sizeof cur);
        for (int p = 0; p + 1 < s->n_passes; p++) {
            cur[s->order[p]] = s->ax[s->order[p]].out;
            int64_t e = 1;
            for (int i = 0; i < r; i++)
                e *= cur[i];
            big = e > big ? e : big;
        }
        n->scratch_bytes = 2 * (size_t)big * sizeof(float);
    }
    sp_node_set_out(n, 0, x->dtype, r, out);
    return SP_OK;
}

/* Nearest: every output element copies one input element; last axis via its table. */
static void run_nearest(const struct rs_state *s, const struct sp_tensor *x, struct sp_tensor *y)
{
    int r = x->ndim;
    size_t es = sp_dtype_size(x->dtype);
    int64_t xs[SP_MAX_DIMS], k[SP_MAX_DIMS] = {0};
    sp_dm_strides(r, x->dims, xs);
    int64_t W = y->dims[r - 1], rows = sp_tensor_numel(y) / W;
    const int64_t *lastidx = s->ax[r - 1].idx;
    char *out = y->data;
    const char *in = x->data;
    for (int64_t row = 0; row < rows; row++, out += (size_t)W * es) {
        int64_t off = 0;
        bool outside = false;
        for (int i = 0; i < r - 1; i++) {
            off += s->ax[i].idx[k[i]] * xs[i];
            outside = outside || (s->ax[i].outside && s->ax[i].outside[k[i]]);
        }
        const char *src = in + (size_t)off * es;
        if (s->ctm == CTM_TF_CROP_AND_RESIZE) { /* float32 only, checked at prepare */
            const uint8_t *lo = s->ax[r - 1].outside;
            for (int64_t c = 0; c < W; c++)
                ((float *)out)[c] = outside || lo[c] ? s->extrapolation_value : ((const float *)src)[lastidx[c]];
        } else if (s->ax[r - 1].identity) {
            memcpy(out, src, (size_t)W * es);
        } else if (es == 4) {
            for (int64_t c = 0; c < W; c++)
                memcpy(out + 4 * c, src + 4 * lastidx[c], 4);
        } else {
            for (int64_t c = 0; c < W; c++)
                sp_dm_copy_elem(out + (size_t)c * es, src + (size_t)lastidx[c] * es, es);
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++k[i] < y->dims[i])
                break;
            k[i] = 0;
        }
    }
}

/* One separable pass along axis a: dst[o, j, i] = sum_k w[j,k] * src[o, idx[j,k], i]. */
static void interp_pass(const struct rs_axis *ax, int K, const float *src, float *dst, int64_t outer, int64_t inner,
                        float extrapolation_value)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *sb = src + o * ax->in * inner;
        float *db = dst + o * ax->out * inner;
        for (int64_t j = 0; j < ax->out; j++) {
            const int64_t *ix = ax->idx + j * K;
            const float *w = ax->w + j * K;
            float *d = db + j * inner;
            if (ax->outside && ax->outside[j]) {
                for (int64_t i = 0; i < inner; i++)
                    d[i] = extrapolation_value;
                continue;
            }
            if (inner == 1) {
                float acc = 0;
                for (int k = 0; k < K; k++)
                    acc += w[k] * sb[ix[k]];
                *d = acc;
                continue;
            }
            for (int64_t i = 0; i < inner; i++)
                d[i] = 0;
            for (int k = 0; k < K; k++) {
                if (w[k] == 0)
                    continue;
                const float *sr = sb + ix[k] * inner;
                float wk = w[k];
                for (int64_t i = 0; i < inner; i++)
                    d[i] += wk * sr[i];
            }
        }
    }
}

static enum sp_status rs_run(struct sp_node *n, void *scratch, struct sp_error *err)
{
    struct rs_state *s = n->state;
    const struct sp_tensor *x = sp_node_in(n, 0);
    struct sp_tensor *y = sp_node_out(n, 0);
    if (sp_tensor_numel(y) == 0)
        return SP_OK;
    if (s->n_passes == 0) {
        memcpy(y->data, x->data, sp_tensor_nbytes(x));
        return SP_OK;
    }
    if (s->mode == RS_NEAREST) {
        run_nearest(s, x, y);
        return SP_OK;
    }
    int r = x->ndim;
    int64_t cur[SP_MAX_DIMS];
    memcpy(cur, x->dims, sizeof cur);
    size_t half = n->scratch_bytes / 2 / sizeof(float);
    const float *src = x->data;
    for (int p = 0; p < s->n_passes; p++) {
        int a = s->order[p];
        float *dst = p == s->n_passes - 1 ? (float *)y->data : (float *)scratch + (p % 2) * half;
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < a; i++)
            outer *= cur[i];
        for (int i = a + 1; i < r; i++)
            inner *= cur[i];
        interp_pass(&s->ax[a], s->taps, src, dst, outer, inner, s->extrapolation_value);
        cur[a] = s->ax[a].out;
        src = dst;
    }
    return SP_OK;
}

SP_DM_GUARDED_INIT(rs_init, rs_free)
const struct sp_op sp_op_Resize = {"Resize", "", 10, 18, rs_init_guarded, rs_prepare, rs_run, rs_free};
const struct sp_op sp_op_Upsample = {"Upsample", "", 7, 9, rs_init_guarded, rs_prepare, rs_run, rs_free};
