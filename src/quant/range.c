/*
 * Choosing an activation's INT8 clipping range from its calibration histogram.
 *
 * Min/max keeps every outlier and so spends the 256 levels on a few extreme
 * values; that is what loses a point on small CNNs and far more on OCR-style
 * models. The other methods trade a little clipping error for finer steps:
 *   percentile  drop a fixed fraction of the mass in the tails;
 *   mse         minimize expected (rounding + clipping) squared error, computed in
 *               O(1) per candidate range from prefix sums of c, c*x, c*x^2;
 *   entropy     minimize KL(P || Q) between the clipped histogram and its
 *               256-level quantized version (the TensorRT calibration idea,
 *               extended to ranges that are not symmetric around zero).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sparsify/quant.h"

#define LEVELS 256

int sp_calib_method_parse(const char *s)
{
    static const char *const names[] = {"minmax", "percentile", "entropy", "mse"};
    if (!s)
        return -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "min-max") == 0 || strcasecmp(s, "min_max") == 0)
        return SP_CALIB_MINMAX;
    if (strcasecmp(s, "kl") == 0)
        return SP_CALIB_ENTROPY;
    return -1;
}

const char *sp_calib_method_str(enum sp_calib_method m)
{
    switch (m) {
    case SP_CALIB_MINMAX: return "minmax";
    case SP_CALIB_PERCENTILE: return "percentile";
    case SP_CALIB_ENTROPY: return "entropy";
    case SP_CALIB_MSE: return "mse";
    }
    return "?";
}

void sp_quant_uint8_params(struct sp_qrange r, float *scale, uint8_t *zero_point)
{
    double lo = fmin(r.lo, 0.0), hi = fmax(r.hi, 0.0);
    if (!(hi - lo > 1e-30) || !isfinite(hi - lo)) {
        lo = isfinite(lo) ? lo : -1.0;
        hi = lo + 1.0;
    }
    double s = (hi - lo) / (LEVELS - 1);
    double zp = nearbyint(-lo / s);
    if (zp < 0) zp = 0;
    if (zp > LEVELS - 1) zp = LEVELS - 1;
    *scale = (float)s;
    if (!(*scale > 0.0f))
        *scale = 1e-30f;
    *zero_point = (uint8_t)zp;
}

/* Final touches every method shares: include zero, never a zero-width range. */
static struct sp_qrange finish(double lo, double hi, const struct sp_histogram *h)
{
    struct sp_qrange r;
    r.lo = fmin(lo, 0.0);
    r.hi = fmax(hi, 0.0);
    if (r.hi - r.lo < 1e-12) {
        /* Constant (typically all-zero) activation: any scale represents it;
         * keep one that is small but safely normal. */
        double mag = fmax(fabs(h->min), fabs(h->max));
        r.hi = r.lo + (mag > 0 ? mag : 1e-3);
    }
    return r;
}

struct prefix {
    double *c, *cx, *cxx; /* prefix sums over bins [0, i) */
};

static double bin_center(const struct sp_histogram *h, int i)
{
    return h->lo + (i + 0.5) * (h->hi - h->lo) / h->bins;
}

static int prefix_init(struct prefix *p, const struct sp_histogram *h)
{
    size_t n = (size_t)h->bins + 1;
    p->c = calloc(n, sizeof(double));
    p->cx = calloc(n, sizeof(double));
    p->cxx = calloc(n, sizeof(double));
    if (!p->c || !p->cx || !p->cxx)
        return -1;
    for (int i = 0; i < h->bins; i++) {
        double c = (double)h->counts[i], x = bin_center(h, i);
        p->c[i + 1] = p->c[i] + c;
        p->cx[i + 1] = p->cx[i] + c * x;
        p->cxx[i + 1] = p->cxx[i] + c * x * x;
    }
    return 0;
}

static void prefix_free(struct prefix *p)
{
    free(p->c);
    free(p->cx);
    free(p->cxx);
}

/* Zero's bin: the index of the bin holding 0 (0 or bins-1 at the edges). */
static int zero_bin(const struct sp_histogram *h)
{
    double w = (h->hi - h->lo) / h->bins;
    int z = (int)floor(-h->lo / w);
    return z < 0 ? 0 : z >= h->bins ? h->bins - 1 : z;
}

static struct sp_qrange choose_percentile(const struct sp_histogram *h, double pct, double total)
{
    double drop = total * (1.0 - pct / 100.0);
    bool two_sided = h->min < 0 && h->max > 0;
    double drop_lo = two_sided ? drop / 2 : (h->max <= 0 ? drop : 0);
    double drop_hi = two_sided ? drop / 2 : (h->max <= 0 ? 0 : drop);
    double w = (h->hi - h->lo) / h->bins, acc = 0;
    double lo = h->min, hi = h->max;
    for (int i = 0; i < h->bins; i++) {
        double c = (double)h->counts[i];
        if (acc + c > drop_lo) {
            lo = fmax(h->min, h->lo + (i + (c > 0 ? (drop_lo - acc) / c : 0)) * w);
            break;
        }
        acc += c;
    }
    acc = 0;
    for (int i = h->bins - 1; i >= 0; i--) {
        double c = (double)h->counts[i];
        if (acc + c > drop_hi) {
            hi = fmin(h->max, h->lo + (i + 1 - (c > 0 ? (drop_hi - acc) / c : 0)) * w);
            break;
        }
        acc += c;
    }
    return finish(lo, hi, h);
}

/* Expected squared error of quantizing the histogram to [a, b]: clipped mass
 * pays its distance to the edge, the rest the uniform rounding noise s^2/12. */
static double mse_cost(const struct sp_histogram *h, const struct prefix *p, int ia, int ib, double a, double b)
{
    double s = (b - a) / (LEVELS - 1);
    /* bins [0, ia) clip to a; bins [ib, bins) clip to b */
    double below = p->cxx[ia] - 2 * a * p->cx[ia] + a * a * p->c[ia];
    double n = h->bins;
    double above = (p->cxx[(int)n] - p->cxx[ib]) - 2 * b * (p->cx[(int)n] - p->cx[ib]) +
                   b * b * (p->c[(int)n] - p->c[ib]);
    double inside = (p->c[ib] - p->c[ia]) * s * s / 12.0;
    return below + above + inside;
}

static struct sp_qrange choose_mse(const struct sp_histogram *h, const struct prefix *p)
{
    int z = zero_bin(h), nb = h->bins;
    double w = (h->hi - h->lo) / nb;
    /* Candidate edges on bin boundaries, at most ~256 per side. */
    int step_lo = z / 256 + 1, step_hi = (nb - z) / 256 + 1;
    double best = INFINITY, ba = h->min, bb = h->max;
    for (int ia = (h->min < 0 ? 0 : z); ia <= z; ia += step_lo) {
        double a = h->min < 0 ? fmax(h->min, h->lo + ia * w) : 0.0;
        for (int ib = (h->max > 0 ? nb : z + 1); ib >= z + 1; ib -= step_hi) {
            double b = h->max > 0 ? fmin(h->max, h->lo + ib * w) : 0.0;
            if (b - a <= 0)
                continue;
            double cost = mse_cost(h, p, ia, ib, a, b);
            if (cost < best) {
                best = cost;
                ba = a;
                bb = b;
            }
        }
    }
    return finish(ba, bb, h);
}

/*
 * KL divergence between the histogram restricted to bins [i0, i1) (outliers
 * folded into the edge bins) and the same mass merged into 256 groups and spread
 * back evenly over the non-empty bins of each group.
 */
static double kl_cost(const struct sp_histogram *h, int i0, int i1, double *pbuf, double *qbuf)
{
    int len = i1 - i0;
    double total = 0;
    for (int i = 0; i < len; i++)
        pbuf[i] = (double)h->counts[i0 + i];
    for (int i = 0; i < i0; i++)
        pbuf[0] += (double)h->counts[i];
    for (int i = i1; i < h->bins; i++)
        pbuf[len - 1] += (double)h->counts[i];
    for (int i = 0; i < len; i++)
        total += pbuf[i];
    if (total <= 0)
        return INFINITY;
    for (int g = 0; g < LEVELS; g++) {
        int s0 = (int)((int64_t)g * len / LEVELS), s1 = (int)((int64_t)(g + 1) * len / LEVELS);
        double mass = 0;
        int nonzero = 0;
        for (int i = s0; i < s1; i++) {
            /* Group by the unclipped counts so clipping shows up as divergence. */
            double c = (double)h->counts[i0 + i];
            mass += c;
            nonzero += c > 0;
        }
        for (int i = s0; i < s1; i++)
            qbuf[i] = (h->counts[i0 + i] > 0 && nonzero) ? mass / nonzero : 0.0;
    }
    double qtotal = 0;
    for (int i = 0; i < len; i++)
        qtotal += qbuf[i];
    if (qtotal <= 0)
        return INFINITY;
    double kl = 0;
    for (int i = 0; i < len; i++) {
        double pi = pbuf[i] / total;
        if (pi <= 0)
            continue;
        double qi = qbuf[i] / qtotal;
        /* A bin P has and Q lacks (the folded outliers) costs as if Q held a
         * small epsilon there, as TensorRT's smoothing does. */
        if (qi <= 0)
            qi = 1e-4 / len;
        kl += pi * log(pi / qi);
    }
    return kl;
}

static struct sp_qrange choose_entropy(const struct sp_histogram *h)
{
    int nb = h->bins, z = zero_bin(h);
    double w = (h->hi - h->lo) / nb;
    if (nb < 2 * LEVELS)
        return finish(h->min, h->max, h);
    double *pbuf = malloc((size_t)nb * sizeof *pbuf), *qbuf = malloc((size_t)nb * sizeof *qbuf);
    if (!pbuf || !qbuf) {
        free(pbuf);
        free(qbuf);
        return finish(h->min, h->max, h);
    }
    /* Shrink the window around zero, both sides in proportion to their extent. */
    double best = INFINITY;
    int bi0 = 0, bi1 = nb;
    int left = z, right = nb - z;
    for (int k = LEVELS; k <= nb; k += (nb - LEVELS) / 256 + 1) {
        int i0 = z - (int)((int64_t)left * k / nb), i1 = z + (int)((int64_t)right * k / nb);
        if (i1 - i0 < LEVELS)
            continue;
        double kl = kl_cost(h, i0, i1, pbuf, qbuf);
        if (kl < best) {
            best = kl;
            bi0 = i0;
            bi1 = i1;
        }
    }
    free(pbuf);
    free(qbuf);
    double lo = bi0 == 0 ? h->min : fmax(h->min, h->lo + bi0 * w);
    double hi = bi1 == nb ? h->max : fmin(h->max, h->lo + bi1 * w);
    return finish(lo, hi, h);
}

enum sp_status sp_quant_choose_range(const struct sp_histogram *h, enum sp_calib_method m, double percentile,
                                     struct sp_qrange *out, struct sp_error *err)
{
    if (h->bins <= 0 || !h->counts || !(h->hi >= h->lo) || !isfinite(h->lo) || !isfinite(h->hi))
        return sp_error_set(err, SP_ERR_INTERNAL, "activation histogram is malformed (bins %d, range [%g, %g])",
                            h->bins, h->lo, h->hi);
    double total = 0;
    for (int i = 0; i < h->bins; i++)
        total += (double)h->counts[i];
    if (total <= 0 || !(h->hi > h->lo) || m == SP_CALIB_MINMAX) {
        *out = finish(h->min, h->max, h);
        return SP_OK;
    }
    switch (m) {
    case SP_CALIB_PERCENTILE:
        if (!(percentile > 0 && percentile <= 100))
            return sp_error_set(err, SP_ERR_USAGE, "percentile %g is outside (0, 100]", percentile);
        *out = choose_percentile(h, percentile, total);
        return SP_OK;
    case SP_CALIB_MSE: {
        struct prefix p;
        if (prefix_init(&p, h)) {
            prefix_free(&p);
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory choosing an MSE range");
        }
        *out = choose_mse(h, &p);
        prefix_free(&p);
        return SP_OK;
    }
    case SP_CALIB_ENTROPY:
        *out = choose_entropy(h);
        return SP_OK;
    default:
        return sp_error_set(err, SP_ERR_USAGE, "unknown calibration method %d", (int)m);
    }
}
