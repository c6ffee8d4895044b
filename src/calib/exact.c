/*
 * Conversion between doubles and 128-bit fixed point, the representation in
 * which calibration sums are accumulated across groups and ranks (see
 * include/sparsify/exact.h for why).
 */
#include <math.h>

#include "sparsify/exact.h"

int sp_exact_frac_bits(double bound, double terms)
{
    if (!(bound > 0) || !isfinite(bound))
        bound = 1.0;
    if (!(terms >= 1) || !isfinite(terms))
        terms = 1.0;
    /* total <= bound * terms < 2^(log2(bound*terms)+1); keep it under the limit. */
    double top = ceil(log2(bound) + log2(terms)) + 1;
    int frac = (int)(SP_EXACT_LIMIT_LOG2 - top);
    if (frac < 0)
        frac = 0;
    if (frac > 200)
        frac = 200;
    return frac;
}

sp_exact_t sp_exact_from_double(double v, int frac_bits)
{
    if (v != v)
        return 0;
    double s = ldexp(v, frac_bits); /* exact: a power-of-two scaling */
    const double lim = 85070591730234615865843651857942052864.0; /* 2^126 */
    if (s >= lim)
        return (sp_exact_t)1 << 126;
    if (s <= -lim)
        return -((sp_exact_t)1 << 126);
    s = nearbyint(s); /* round half to even (default rounding mode) */
    /* Split into high and low 63-bit parts so that every step is exact. */
    double hi = trunc(ldexp(s, -63));
    double lo = s - ldexp(hi, 63);
    /* A multiply, not a shift: shifting a negative value left is undefined. */
    return (sp_exact_t)(int64_t)hi * ((sp_exact_t)1 << 63) + (sp_exact_t)(int64_t)lo;
}

double sp_exact_to_double(sp_exact_t x, int frac_bits)
{
    /* Split so that each part converts exactly, then one final rounding. */
    int neg = x < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(x + 1)) + 1 : (unsigned __int128)x;
    uint64_t hi = (uint64_t)(u >> 64), lo = (uint64_t)u;
    /* hi * 2^64 is exact in double only up to 53 bits; long double has 64. */
    long double r = ldexpl((long double)hi, 64) + (long double)lo;
    double d = (double)ldexpl(r, -frac_bits);
    return neg ? -d : d;
}

void sp_exact_accumulate(sp_exact_t *acc, const double *v, size_t n, int frac_bits)
{
    /* Fast path, same result as sp_exact_from_double: scaling by 2^frac is an
     * exact multiplication, and a rounded value below 2^62 converts straight
     * to int64. Only larger (or non-finite) values take the split path. */
    const double scale = ldexp(1.0, frac_bits);
    const double lim = 4611686018427387904.0; /* 2^62 */
    for (size_t i = 0; i < n; i++) {
        double s = v[i] * scale;
        if (s < lim && s > -lim)
            acc[i] += (int64_t)nearbyint(s);
        else
            acc[i] += sp_exact_from_double(v[i], frac_bits);
    }
}
