/*
 * Exact fixed-point sums: conversions round correctly, and the total of many
 * converted values is the same whatever order they are added in, which is
 * what makes calibration bit-identical across rank counts.
 */
#include <math.h>
#include <stdlib.h>

#include <CUnit/CUnit.h>

#include "sparsify/exact.h"
#include "testutil.h"

static void test_round_trip(void)
{
    const double vals[] = {0.0, 1.0, -1.0, 0.1, -3.75, 1e-9, 123456.789, -2.5e12, 1.0 / 3.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int frac = sp_exact_frac_bits(fabs(vals[i]) * 2 + 1, 1000);
        double back = sp_exact_to_double(sp_exact_from_double(vals[i], frac), frac);
        CU_ASSERT(fabs(back - vals[i]) <= ldexp(1.0, -frac));
    }
    /* Exact halves round to even. */
    CU_ASSERT(sp_exact_from_double(2.5, 0) == 2);
    CU_ASSERT(sp_exact_from_double(3.5, 0) == 4);
    CU_ASSERT(sp_exact_from_double(-2.5, 0) == -2);
    /* Values above 2^63 survive the high/low split. */
    double big = ldexp(1.0, 100) + ldexp(1.0, 60);
    CU_ASSERT(sp_exact_from_double(big, 0) == (((sp_exact_t)1 << 100) + ((sp_exact_t)1 << 60)));
    CU_ASSERT_EQUAL(sp_exact_to_double(sp_exact_from_double(-big, 3), 3), -big);
    CU_ASSERT(sp_exact_from_double(NAN, 10) == 0);
    CU_ASSERT(sp_exact_from_double(INFINITY, 10) == (sp_exact_t)1 << 126);
}

static void test_frac_bits_bound_totals(void)
{
    int f = sp_exact_frac_bits(1e6, 1e9);
    /* 1e6 * 1e9 * 2^f must stay below 2^120. */
    CU_ASSERT(log2(1e15) + f <= SP_EXACT_LIMIT_LOG2);
    CU_ASSERT(f > 60);
    CU_ASSERT_EQUAL(sp_exact_frac_bits(1e300, 1e300), 0);
    CU_ASSERT_EQUAL(sp_exact_frac_bits(1e-300, 1), 200);
}

static void test_order_independence(void)
{
    enum { N = 5000 };
    static double v[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = ldexp((double)(s >> 11), -53 + (int)(s % 40) - 20) * ((s >> 7) & 1 ? 1 : -1);
    }
    int frac = sp_exact_frac_bits(1e7, N);
    sp_exact_t fwd = 0, bwd = 0, strided = 0;
    double dfwd = 0, dbwd = 0;
    for (int i = 0; i < N; i++) {
        fwd += sp_exact_from_double(v[i], frac);
        bwd += sp_exact_from_double(v[N - 1 - i], frac);
        dfwd += v[i];
        dbwd += v[N - 1 - i];
    }
    for (int k = 0; k < 7; k++)
        for (int i = k; i < N; i += 7)
            strided += sp_exact_from_double(v[i], frac);
    CU_ASSERT(fwd == bwd);
    CU_ASSERT(fwd == strided);
    /* The plain double sums of the same data differ: the problem being solved. */
    CU_ASSERT(dfwd != dbwd);
    CU_ASSERT(fabs(sp_exact_to_double(fwd, frac) - dfwd) < 1e-6 * fabs(dfwd) + 1e-9);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("exact", NULL, NULL);
    CU_add_test(s, "double <-> fixed point round trip", test_round_trip);
    CU_add_test(s, "fraction bits bound the totals", test_frac_bits_bound_totals);
    CU_add_test(s, "sums do not depend on order", test_order_independence);
    return sp_test_main();
}
