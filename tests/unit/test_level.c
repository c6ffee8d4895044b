/* --optim-level: strict parsing and the level -> plan mapping at its boundaries. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

#include "sparsify/level.h"
#include "testutil.h"

static void parse_ok(const char *s, double want)
{
    double v = -1;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_level_parse(s, &v, &err), SP_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, want, 0.0);
}

static void parse_bad(const char *s)
{
    double v = 0.25;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_level_parse(s, &v, &err), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--optim-level"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "[0, 1]"));
}

static void test_parse_accepts_plain_decimals(void)
{
    parse_ok("0", 0.0);
    parse_ok("1", 1.0);
    parse_ok("0.5", 0.5);
    parse_ok(".5", 0.5);
    parse_ok("0.", 0.0);
    parse_ok("1.0", 1.0);
    parse_ok("1.000", 1.0);
    parse_ok("0.29999", 0.29999);
    parse_ok("00.3", 0.3);
}

static void test_parse_refuses_everything_else(void)
{
    const char *bad[] = {"",    "nan", "NaN",  "inf", "1.5",  "-0",   "+0.5", "-0.5", "0.5x", "x0.5", " 0.5",
                         "0.5 ", "1e-1", "0x1", ".",   "0..5", "1.01", "2",    "0,5",  "1.0000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i]);
    parse_bad(NULL);
}

static struct sp_level_plan plan_of(double level)
{
    struct sp_level_plan p;
    memset(&p, 0xff, sizeof p);
    CU_ASSERT_EQUAL(sp_level_plan(level, &p, NULL), SP_OK);
    return p;
}

static void test_level_zero_does_nothing(void)
{
    struct sp_level_plan p = plan_of(0.0);
    CU_ASSERT_FALSE(p.quantize);
    CU_ASSERT_FALSE(p.prune);
    CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(p.level, 0.0, 0.0);
    /* -0.0 from an API caller is level 0, reported as +0. */
    p = plan_of(-0.0);
    CU_ASSERT_FALSE(p.quantize);
    CU_ASSERT_FALSE(signbit(p.level));
}

static void test_below_0_3_quantizes_only(void)
{
    double levels[] = {1e-9, 0.1, 0.2, 0.29999};
    for (size_t i = 0; i < 4; i++) {
        struct sp_level_plan p = plan_of(levels[i]);
        CU_ASSERT_TRUE(p.quantize);
        CU_ASSERT_FALSE(p.prune);
        CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.0, 0.0);
    }
}

static void test_sparsity_ramp(void)
{
    struct sp_level_plan p = plan_of(0.3);
    CU_ASSERT_TRUE(p.quantize);
    CU_ASSERT_TRUE(p.prune);
    CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.40, 1e-12);
    p = plan_of(0.65);
    CU_ASSERT_TRUE(p.prune);
    CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.60, 1e-12);
    p = plan_of(1.0);
    CU_ASSERT_TRUE(p.quantize);
    CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.80, 1e-12);
    p = plan_of(0.5);
    CU_ASSERT_DOUBLE_EQUAL(p.sparsity, 0.40 + 0.2 / 0.7 * 0.40, 1e-12);
    /* Monotone across the whole range. */
    double prev = 0;
    for (int i = 300; i <= 1000; i++) {
        p = plan_of(i / 1000.0);
        CU_ASSERT_TRUE(p.sparsity >= prev);
        CU_ASSERT_TRUE(p.sparsity >= 0.40 && p.sparsity <= 0.80);
        prev = p.sparsity;
    }
}

static void test_plan_refuses_out_of_range(void)
{
    struct sp_level_plan p;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_level_plan(1.0000001, &p, &err), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(sp_level_plan(-0.1, &p, NULL), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(sp_level_plan(NAN, &p, NULL), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(sp_level_plan(INFINITY, &p, NULL), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--optim-level"));
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("level", NULL, NULL);
    CU_add_test(s, "parse accepts plain decimals in [0, 1]", test_parse_accepts_plain_decimals);
    CU_add_test(s, "parse refuses signs, exponents, nan, junk, out of range", test_parse_refuses_everything_else);
    CU_add_test(s, "level 0 does nothing", test_level_zero_does_nothing);
    CU_add_test(s, "below 0.3 quantizes only", test_below_0_3_quantizes_only);
    CU_add_test(s, "sparsity 40% at 0.3, 60% at 0.65, 80% at 1", test_sparsity_ramp);
    CU_add_test(s, "plan refuses out-of-range levels", test_plan_refuses_out_of_range);
    return sp_test_main();
}
