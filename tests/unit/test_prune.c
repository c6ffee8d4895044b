/*
 * Layer pruning: SparseGPT must reach the requested sparsity and reconstruct
 * the layer output better than magnitude pruning on correlated inputs; joint
 * quantization must land on the per-row grid with pruned weights exact zeros.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sparsify/prune.h"
#include "testutil.h"

enum { ROWS = 48, COLS = 160, SAMPLES = 600 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static float w0[ROWS * COLS];
static double x[COLS * SAMPLES]; /* COLS x SAMPLES, correlated features */
static double h[COLS * COLS];

/* Inputs with strong correlations (a low-rank mix plus noise), as real layer
 * inputs have: this is where the Hessian-aware update pays off. */
static void make_problem(int dead_col)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    enum { RANK = 12 };
    static double mix[COLS * RANK];
    for (int i = 0; i < COLS * RANK; i++)
        mix[i] = nrand();
    for (int s = 0; s < SAMPLES; s++) {
        double z[RANK];
        for (int k = 0; k < RANK; k++)
            z[k] = nrand();
        for (int c = 0; c < COLS; c++) {
            double v = 0.3 * nrand();
            for (int k = 0; k < RANK; k++)
                v += mix[c * RANK + k] * z[k];
            x[c * SAMPLES + s] = c == dead_col ? 0.0 : v;
        }
    }
    for (int i = 0; i < ROWS * COLS; i++)
        w0[i] = (float)nrand();
    for (int i = 0; i < COLS; i++)
        for (int j = 0; j < COLS; j++) {
            double acc = 0;
            for (int s = 0; s < SAMPLES; s++)
                acc += x[i * SAMPLES + s] * x[j * SAMPLES + s];
            h[i * COLS + j] = acc;
        }
}

/* ||(W0 - W) X||_F^2 / ||W0 X||_F^2 */
static double output_error(const float *w)
{
    double num = 0, den = 0;
    for (int r = 0; r < ROWS; r++)
        for (int s = 0; s < SAMPLES; s++) {
            double a = 0, b = 0;
            for (int c = 0; c < COLS; c++) {
                a += w0[r * COLS + c] * x[c * SAMPLES + s];
                b += w[r * COLS + c] * x[c * SAMPLES + s];
            }
            num += (a - b) * (a - b);
            den += a * a;
        }
    return num / den;
}

static int64_t count_zeros(const float *w)
{
    int64_t z = 0;
    for (int i = 0; i < ROWS * COLS; i++)
        z += w[i] == 0.0f;
    return z;
}

static double run(enum sp_prune_method m, double sparsity, int bits, int n, int mm, float *w, float *scales, int8_t *q,
                  struct sp_prune_result *res)
{
    struct sp_prune_options o;
    struct sp_error err = {0};
    sp_prune_options_init(&o);
    o.method = m;
    o.sparsity = sparsity;
    o.quant_bits = bits;
    o.nm_n = n;
    o.nm_m = mm;
    o.block = 64; /* several blocks: exercises the lazy update */
    memcpy(w, w0, sizeof w0);
    enum sp_status st = sp_prune_layer(w, ROWS, COLS, h, &o, scales, q, res, &err);
    CU_ASSERT_EQUAL_FATAL(st, SP_OK);
    return output_error(w);
}

static void test_sparsegpt_reaches_target_and_beats_magnitude(void)
{
    static float ws[ROWS * COLS], wm[ROWS * COLS];
    struct sp_prune_result rs, rm;
    make_problem(-1);
    for (double sp = 0.5; sp < 0.85; sp += 0.3) {
        double es = run(SP_PRUNE_SPARSEGPT, sp, 0, 0, 0, ws, NULL, NULL, &rs);
        double em = run(SP_PRUNE_MAGNITUDE, sp, 0, 0, 0, wm, NULL, NULL, &rm);
        /* Exact count per block (floor), so within one element per block row. */
        CU_ASSERT(fabs(rs.sparsity - sp) < 0.01);
        CU_ASSERT(fabs(rm.sparsity - sp) < 0.01);
        CU_ASSERT_EQUAL(rs.zeros, count_zeros(ws));
        CU_ASSERT(es < 0.6 * em);
        CU_ASSERT(es > 0.0);
    }
}

static void test_joint_quantization_on_grid(void)
{
    static float w[ROWS * COLS], scales[ROWS];
    static int8_t q[ROWS * COLS];
    struct sp_prune_result r;
    make_problem(-1);
    double e = run(SP_PRUNE_SPARSEGPT, 0.5, 8, 0, 0, w, scales, q, &r);
    CU_ASSERT(fabs(r.sparsity - 0.5) < 0.01);
    for (int i = 0; i < ROWS * COLS; i++) {
        int row = i / COLS;
        CU_ASSERT_TRUE(q[i] >= -127 && q[i] <= 127);
        CU_ASSERT_EQUAL(w[i], (float)q[i] * scales[row]);
    }
    /* Some row uses the full range: the scale is not wasted on pruned weights. */
    int full = 0;
    for (int i = 0; i < ROWS * COLS; i++)
        full += abs(q[i]) == 127;
    CU_ASSERT(full >= ROWS / 2);
    static float wm[ROWS * COLS], sm[ROWS];
    struct sp_prune_result rm;
    double em = run(SP_PRUNE_MAGNITUDE, 0.5, 8, 0, 0, wm, sm, NULL, &rm);
    CU_ASSERT(e < 0.6 * em);
}

static void test_gptq_beats_round_to_nearest(void)
{
    static float w[ROWS * COLS], scales[ROWS];
    struct sp_prune_result r;
    make_problem(-1);
    double e_gptq = run(SP_PRUNE_SPARSEGPT, 0.0, 4, 0, 0, w, scales, NULL, &r);
    double e_rtn = run(SP_PRUNE_MAGNITUDE, 0.0, 4, 0, 0, w, scales, NULL, &r);
    CU_ASSERT_EQUAL(r.zeros, count_zeros(w));
    CU_ASSERT(e_gptq < 0.8 * e_rtn);
}

static void test_two_four_pattern(void)
{
    static float w[ROWS * COLS];
    struct sp_prune_result r;
    make_problem(-1);
    for (int m = 0; m < 2; m++) {
        run(m ? SP_PRUNE_MAGNITUDE : SP_PRUNE_SPARSEGPT, 0.0, 0, 2, 4, w, NULL, NULL, &r);
        for (int row = 0; row < ROWS; row++)
            for (int c = 0; c < COLS; c += 4) {
                int z = 0;
                for (int j = 0; j < 4; j++)
                    z += w[row * COLS + c + j] == 0.0f;
                CU_ASSERT(z >= 2);
            }
        CU_ASSERT(fabs(r.sparsity - 0.5) < 1e-9);
    }
}

static void test_dead_input_and_rank_deficient_hessian(void)
{
    static float w[ROWS * COLS];
    struct sp_prune_result r;
    make_problem(7);
    /* Rank-deficient: only 12 directions + noise; a dead column 7. */
    run(SP_PRUNE_SPARSEGPT, 0.6, 0, 0, 0, w, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.dead_inputs, 1);
    for (int row = 0; row < ROWS; row++)
        CU_ASSERT_EQUAL(w[row * COLS + 7], 0.0f);
    for (int i = 0; i < ROWS * COLS; i++)
        CU_ASSERT_TRUE(isfinite(w[i]));
    /* An all-zero Hessian: every input dead, the layer becomes zero, no NaN. */
    static double hz[COLS * COLS];
    struct sp_prune_options o;
    struct sp_error err = {0};
    sp_prune_options_init(&o);
    o.sparsity = 0.5;
    memcpy(w, w0, sizeof w0);
    CU_ASSERT_EQUAL(sp_prune_layer(w, ROWS, COLS, hz, &o, NULL, NULL, &r, &err), SP_OK);
    CU_ASSERT_EQUAL(r.dead_inputs, COLS);
    CU_ASSERT_EQUAL(count_zeros(w), ROWS * COLS);
}

static void test_bad_inputs_fail_cleanly(void)
{
    static float w[ROWS * COLS];
    struct sp_prune_options o;
    struct sp_prune_result r;
    struct sp_error err = {0};
    make_problem(-1);
    sp_prune_options_init(&o);
    memcpy(w, w0, sizeof w0);
    o.sparsity = 1.0;
    CU_ASSERT_EQUAL(sp_prune_layer(w, ROWS, COLS, h, &o, NULL, NULL, &r, &err), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sparsity"));
    o.sparsity = 0.5;
    w[5] = NAN;
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_prune_layer(w, ROWS, COLS, h, &o, NULL, NULL, &r, &err), SP_ERR_NUMERIC);
    memcpy(w, w0, sizeof w0);
    h[3] = INFINITY;
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_prune_layer(w, ROWS, COLS, h, &o, NULL, NULL, &r, &err), SP_ERR_NUMERIC);
    o.nm_n = 4;
    o.nm_m = 4;
    sp_error_clear(&err);
    CU_ASSERT_EQUAL(sp_prune_layer(w, ROWS, COLS, h, &o, NULL, NULL, &r, &err), SP_ERR_USAGE);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("prune", NULL, NULL);
    CU_add_test(s, "SparseGPT reaches the target and beats magnitude", test_sparsegpt_reaches_target_and_beats_magnitude);
    CU_add_test(s, "joint quantization lands on the per-row grid", test_joint_quantization_on_grid);
    CU_add_test(s, "GPTQ (sparsity 0) beats round-to-nearest", test_gptq_beats_round_to_nearest);
    CU_add_test(s, "2:4 masks", test_two_four_pattern);
    CU_add_test(s, "dead inputs and rank-deficient Hessians", test_dead_input_and_rank_deficient_hessian);
    CU_add_test(s, "bad inputs fail cleanly", test_bad_inputs_fail_cleanly);
    return sp_test_main();
}
