/* Small AVX2 helpers shared by the float kernels (kernels_avx2.c, kernels_att_avx2.c); only for files
 * built with -mavx2 -mfma -mf16c. */
#ifndef MLXC_AVX2_UTIL_H
#define MLXC_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>

#include "core/exp_poly.h"

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Eight sums: lane j = hsum(a[j]). */
static inline __m256 hsum8x8(const __m256 a[8])
{
    __m256 h0 = _mm256_hadd_ps(a[0], a[1]), h1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 h2 = _mm256_hadd_ps(a[4], a[5]), h3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3); /* g0: sums 0-3 of each 128-bit half */
    __m256 lo = _mm256_permute2f128_ps(g0, g1, 0x20), hi = _mm256_permute2f128_ps(g0, g1, 0x31);
    return _mm256_add_ps(lo, hi);
}

/* 8 elements of a row from element k on, as f32. */
static inline __m256 load8_f32(const unsigned char *row, int64_t k) { return _mm256_loadu_ps((const float *)(row + 4 * k)); }
static inline __m256 load8_f16(const unsigned char *row, int64_t k)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * k)));
}
static inline __m256 load8_bf16(const unsigned char *row, int64_t k)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* e^x for x <= 0 (the callers subtract the maximum), about 1 ulp (core/exp_poly.h). */
static inline __m256 exp_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(EXP_MIN);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_P[0]);
    for (int i = 1; i < 6; i++)
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P[i]));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

#endif
