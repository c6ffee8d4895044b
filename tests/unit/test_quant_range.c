/*
 * Activation range selection: on a heavy-tailed distribution the clipping
 * methods must beat min/max in actual quantization error of the samples, and
 * every range must contain zero and have a positive width.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sparsify/quant.h"
#include "testutil.h"

enum { N = 200000, BINS = 2048 };
static double xs[N];
static int64_t counts[BINS];

static uint64_t st = 88172645463325252ull;
static double urand(void)
{
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (double)(st >> 11) / 9007199254740992.0;
}

/* Laplace-like body with a few far outliers, optionally rectified (ReLU). */
static struct sp_histogram make_hist(int relu)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < N; i++) {
        double u = urand() - 0.5;
        double v = -copysign(log(1 - 2 * fabs(u) + 1e-300), u);
        if (i % 20000 == 0)
            v = 40.0 * (i % 40000 ? 1 : -1);
        if (relu && v < 0)
            v = 0;
        xs[i] = v;
        mn = fmin(mn, v);
        mx = fmax(mx, v);
    }
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < N; i++) {
        int b = (int)((xs[i] - mn) / (mx - mn) * BINS);
        counts[b >= BINS ? BINS - 1 : b]++;
    }
    struct sp_histogram h = {.lo = mn, .hi = mx, .bins = BINS, .counts = counts, .min = mn, .max = mx};
    return h;
}

/* Mean squared quantization error over the samples with |x| <= body (all of
 * them for body = INFINITY). */
static double quant_mse_within(struct sp_qrange r, double body)
{
    float s;
    uint8_t zp;
    sp_quant_uint8_params(r, &s, &zp);
    double e = 0;
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (fabs(xs[i]) > body)
            continue;
        n++;
        double q = nearbyint(xs[i] / s) + zp;
        q = q < 0 ? 0 : q > 255 ? 255 : q;
        double d = (q - zp) * s - xs[i];
        e += d * d;
    }
    return e / n;
}

static double quant_mse(struct sp_qrange r) { return quant_mse_within(r, INFINITY); }

static void check_methods(int relu)
{
    struct sp_histogram h = make_hist(relu);
    struct sp_qrange r[4];
    struct sp_error err = {0};
    for (int m = 0; m < 4; m++) {
        CU_ASSERT_EQUAL_FATAL(sp_quant_choose_range(&h, (enum sp_calib_method)m, 99.99, &r[m], &err), SP_OK);
        CU_ASSERT(r[m].lo <= 0 && r[m].hi >= 0 && r[m].hi - r[m].lo > 0);
    }
    CU_ASSERT_DOUBLE_EQUAL(r[SP_CALIB_MINMAX].hi, h.max, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r[SP_CALIB_MINMAX].lo, relu ? 0.0 : h.min, 1e-12);
    /* Percentile and entropy clip the rare far outliers and so quantize the
     * body of the distribution several times finer than min/max. */
    double body_minmax = quant_mse_within(r[SP_CALIB_MINMAX], 15.0);
    for (int m = SP_CALIB_PERCENTILE; m <= SP_CALIB_ENTROPY; m++) {
        CU_ASSERT(r[m].hi < 0.6 * h.max);
        CU_ASSERT(quant_mse_within(r[m], 15.0) < 0.2 * body_minmax);
    }
    /* MSE minimizes the total squared error (outliers included): no other
     * method does better on it, and it beats plain min/max. */
    for (int m = 0; m < 4; m++)
        CU_ASSERT(quant_mse(r[SP_CALIB_MSE]) <= quant_mse(r[m]) * 1.02);
    CU_ASSERT(quant_mse(r[SP_CALIB_MSE]) < quant_mse(r[SP_CALIB_MINMAX]));
}

static void test_signed_heavy_tail(void) { check_methods(0); }
static void test_relu_heavy_tail(void) { check_methods(1); }

static void test_degenerate_histograms(void)
{
    int64_t c[16] = {0};
    struct sp_qrange r;
    struct sp_error err = {0};
    float s;
    uint8_t zp;
    /* Constant zero activation: a positive scale, zero exactly representable. */
    c[0] = 100;
    struct sp_histogram h = {.lo = 0, .hi = 0, .bins = 16, .counts = c, .min = 0, .max = 0};
    for (int m = 0; m < 4; m++) {
        CU_ASSERT_EQUAL(sp_quant_choose_range(&h, (enum sp_calib_method)m, 99.9, &r, &err), SP_OK);
        sp_quant_uint8_params(r, &s, &zp);
        CU_ASSERT(s > 0 && isfinite(s));
        CU_ASSERT_EQUAL(zp, 0);
    }
    /* Constant 3.0: representable exactly as the top level. */
    struct sp_histogram h3 = {.lo = 3, .hi = 3, .bins = 16, .counts = c, .min = 3, .max = 3};
    CU_ASSERT_EQUAL(sp_quant_choose_range(&h3, SP_CALIB_ENTROPY, 99.9, &r, &err), SP_OK);
    sp_quant_uint8_params(r, &s, &zp);
    CU_ASSERT_DOUBLE_EQUAL((255 - zp) * s, 3.0, 1e-6);
    /* All-negative range keeps zero at the top. */
    struct sp_histogram hn = {.lo = -4, .hi = -1, .bins = 16, .counts = c, .min = -4, .max = -1};
    CU_ASSERT_EQUAL(sp_quant_choose_range(&hn, SP_CALIB_MINMAX, 99.9, &r, &err), SP_OK);
    sp_quant_uint8_params(r, &s, &zp);
    CU_ASSERT_EQUAL(zp, 255);
    /* Malformed input is an error, not a crash. */
    struct sp_histogram bad = {.lo = NAN, .hi = 1, .bins = 16, .counts = c};
    CU_ASSERT_NOT_EQUAL(sp_quant_choose_range(&bad, SP_CALIB_MSE, 99.9, &r, &err), SP_OK);
    CU_ASSERT_EQUAL(sp_calib_method_parse("KL"), SP_CALIB_ENTROPY);
    CU_ASSERT_EQUAL(sp_calib_method_parse("bogus"), -1);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("quant_range", NULL, NULL);
    CU_add_test(s, "clipping methods beat min/max on a signed heavy tail", test_signed_heavy_tail);
    CU_add_test(s, "clipping methods beat min/max on a rectified heavy tail", test_relu_heavy_tail);
    CU_add_test(s, "degenerate histograms give sane parameters", test_degenerate_histograms);
    return sp_test_main();
}
