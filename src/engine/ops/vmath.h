/*
 * Float exp and erf written so that a loop over an array vectorizes.
 *
 * glibc's expf/erff are scalar calls with error handling, and gcc only swaps
 * them for vector versions under -ffast-math; in BERT-base they cost a fifth
 * of the run (Erf alone 13% at sequence 128, Softmax 7%). These versions use
 * no branches, only arithmetic, selects and bit casts, so gcc -O3 turns a
 * loop calling them into AVX2/AVX-512 code. Accuracy: exp within 2 ulp on
 * [-87, 88] (Cody-Waite reduction by ln 2, degree-7 polynomial), 0 below
 * -87.3 and saturating at e^88 above 88; erf within 4e-8 of the correctly
 * rounded value (Taylor series in double below |x| = 3, Abramowitz & Stegun
 * 7.1.26 above, where erf is 1 - 2e-5 or closer).
 */
#ifndef SPARSIFY_ENGINE_VMATH_H
#define SPARSIFY_ENGINE_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float sp_vexpf(float x)
{
    float c = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* x = n ln2 + r, |r| <= ln2 / 2, n = x / ln2 rounded to nearest by adding
     * 1.5 * 2^23 (n lands in the low mantissa bits; a float-to-int conversion
     * would keep gcc from vectorizing). ln2 is split in two so n * ln2_hi is exact. */
    float shifted = c * 1.44269504088896341f + 12582912.0f;
    float n = shifted - 12582912.0f;
    int32_t n_bits;
    memcpy(&n_bits, &shifted, sizeof n_bits);
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n by building the exponent field; n is in [-126, 127] after the clamp.
     * Unsigned, because a NaN x escapes the clamp and leaves n_bits arbitrary
     * (the NaN still comes out through p). */
    uint32_t bits = ((uint32_t)n_bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return x < -87.3f ? 0.0f : y;
}

/* 2/sqrt(pi) * (-1)^k / (k! (2k+1)): erf's Taylor series, k = 0..35, enough
 * for |x| < 3 in double (the largest term there is about 170, so the
 * alternating sum loses under 1e-13). */
static const double sp_erf_taylor[36] = {
    1.1283791670955126, -0.37612638903183754, 0.11283791670955128,
    -0.026866170645131252, 0.0052239776254421879, -0.00085483270234508533,
    0.00012055332981789665, -1.4925650358406252e-05, 1.6462114365889248e-06,
    -1.6365844691234924e-07, 1.4807192815879219e-08, -1.2290555301717928e-09,
    9.4227590646504113e-11, -6.7113668551641113e-12, 4.4632242632864775e-13,
    -2.7835162072109218e-14, 1.6342614095367154e-15, -9.0639708428086728e-17,
    4.7633480405150683e-18, -2.3784598852774297e-19, 1.1312187259246312e-20,
    -5.1362090545858109e-22, 2.2308786802746453e-23, -9.2867290113190594e-25,
    3.7115328531632299e-26, -1.4263930180784178e-27, 5.2791033325108343e-29,
    -1.8841244217042039e-30, 6.4929099745445622e-32, -2.1630383901171246e-33,
    6.9737303287929154e-35, -2.17817485947961e-36, 6.5973565455392029e-38,
    -1.9395213725013487e-39, 5.5391275344241428e-41, -1.538027363683162e-42,
};

static inline float sp_verff(float x)
{
    /* Both branches are computed for every x and one is selected at the end:
     * a clamp or branch before the arithmetic keeps gcc from vectorizing. The
     * branch not taken may overflow to inf or NaN; it is discarded. */
    /* |x| < 3: the Taylor series in double (within 3e-8 of erf after rounding
     * to float; A&S's formula alone is only good to 1.5e-7 there). */
    double xd = (double)x;
    double z = xd * xd, s = sp_erf_taylor[35];
    /* Unrolled, so the caller's loop over elements is the one that vectorizes. */
#pragma GCC unroll 36
    for (int k = 34; k >= 0; k--)
        s = s * z + sp_erf_taylor[k];
    float small = (float)(s * xd);
    /* |x| >= 3: 1 - poly(t) e^(-x^2), t = 1 / (1 + p|x|) (Abramowitz & Stegun
     * 7.1.26), whose error there is below 1.5e-8. */
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float q = 1.061405429f;
    q = q * t - 1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t - 0.284496736f;
    q = q * t + 0.254829592f;
    float big = 1.0f - q * t * sp_vexpf(-a * a);
    big = copysignf(big, x);
    /* A bitwise select: with a ?: gcc sinks each branch's arithmetic under a
     * condition, and a float conversion there blocks vectorization. */
    int32_t sb, bb, mask = -(int32_t)(a < 3.0f);
    memcpy(&sb, &small, sizeof sb);
    memcpy(&bb, &big, sizeof bb);
    int32_t rb = (sb & mask) | (bb & ~mask);
    float r;
    memcpy(&r, &rb, sizeof r);
    return r;
}

#endif
