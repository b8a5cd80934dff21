/* What the AVX2 kernels over a quantized KV cache share (kernels_attq_avx2.c: two passes,
 * kernels_attq_decode_avx2.c: decode in one): the queries rounded to int16 per group, and int32 sums.
 * Only for files built with -mavx2 -mfma. */
#ifndef MLXC_ATTQ_AVX2_H
#define MLXC_ATTQ_AVX2_H

#include "core/att_avx2.h"

enum {
    QUERY_CODES = 8192, /* int16 query elements of one pass over the rows (16 KB of stack) */
    QUAD_GROUPS = 256,  /* (query, group) pairs of one pass: <= QUERY_CODES / 32, gs >= 32 */
};

/* Eight int32 sums: lane j = the sum of a[j]'s lanes. */
INLINE __m256i hsum8x8_epi32(const __m256i a[8])
{
    const __m256i h0 = _mm256_hadd_epi32(a[0], a[1]), h1 = _mm256_hadd_epi32(a[2], a[3]);
    const __m256i h2 = _mm256_hadd_epi32(a[4], a[5]), h3 = _mm256_hadd_epi32(a[6], a[7]);
    const __m256i g0 = _mm256_hadd_epi32(h0, h1), g1 = _mm256_hadd_epi32(h2, h3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

/* Queries [qa, qb) (hd each) rounded to int16 per group of gs into q16 (rows from qa), with each group's
 * step and f32 sum at step[(i - qa) * G + g], sum[...]. */
static inline void round_queries(const float *q, int qa, int qb, int hd, int gs, int16_t *q16, float *step, float *sum)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = qa; i < qb; i++)
        for (int d0 = 0; d0 < hd; d0 += gs) {
            const float *x = q + (int64_t)i * hd + d0;
            __m256 m = _mm256_setzero_ps(), s = _mm256_setzero_ps();
            for (int d = 0; d < gs; d += 8) {
                const __m256 v = _mm256_loadu_ps(x + d);
                m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v));
                s = _mm256_add_ps(s, v);
            }
            float mx[8];
            _mm256_storeu_ps(mx, m);
            float top = 0.0f;
            for (int l = 0; l < 8; l++)
                top = mx[l] > top ? mx[l] : top;
            const __m256 inv = _mm256_set1_ps(top > 0.0f ? 32767.0f / top : 0.0f);
            int16_t *y = q16 + (int64_t)(i - qa) * hd + d0;
            for (int d = 0; d < gs; d += 16) { /* round to nearest; |x * inv| <= 32767 */
                const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + d), inv));
                const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + d + 8), inv));
                /* packs works per 128-bit lane: a0 b0 a1 b1 -> a0 a1 b0 b1 */
                _mm256_storeu_si256((__m256i *)(y + d), _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
            }
            step[(i - qa) * (hd / gs) + d0 / gs] = top / 32767.0f;
            sum[(i - qa) * (hd / gs) + d0 / gs] = hsum(s);
        }
}

/* *acc += t, in acc's register: gcc otherwise adds into a new register and copies the sum back, one
 * more instruction per add. */
INLINE void add_to(__m256i *acc, __m256i t) { __asm__("vpaddd %1, %0, %0" : "+x"(*acc) : "x"(t)); }

#endif
