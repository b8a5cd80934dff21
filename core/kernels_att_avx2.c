/* AVX2 attention kernels (contracts in core/kernels.h): scores q.k and weighted sums of values over the
 * cached rows of one kv head, for the nq query rows that share it (a GQA group, times tokens in
 * prefill). Decode at long context reads every cached row once per token, so the loops keep both the
 * FMA units and the memory busy:
 *   - rows are taken in blocks of BLOCK (8 KB of bf16 keys at head_dim 64), which stay in L1 while every
 *     query uses them; the rows of the block after are prefetched meanwhile;
 *   - rows are converted to f32 in registers as they are loaded, 16 elements at a time, never through a
 *     buffer; bf16 by interleaving with zeros (a shuffle: the FMA ports stay free), which leaves the 16
 *     in "paired" order (load16), so the queries are permuted to match and the outputs back;
 *   - queries go four at a time: scores keep 4 queries x 2 rows of accumulators (one hsum8x8 gives the 8
 *     results), values keep 4 queries x 16 dimensions of output in registers across the block's rows.
 * Query rows past nq in a group of four repeat the group's first row and are never stored. */
#include <immintrin.h>
#include <string.h>

#include "core/avx2_util.h"
#include "core/kernels.h"

enum {
    BLOCK = 64,
    MAX_HD = 1024, /* head_dim cap of core/config.c: the permuted queries of a group of 4 on the stack */
};

#define INLINE static inline __attribute__((always_inline))

INLINE __m256 load8(const unsigned char *row, int64_t k, enum mlxc_dtype dt)
{
    return dt == MLXC_F32 ? load8_f32(row, k) : dt == MLXC_F16 ? load8_f16(row, k) : load8_bf16(row, k);
}

/* Elements k..k+15 of a row as f32 in two vectors. f32 and f16: natural order, a = k..k+7, b = k+8..k+15.
 * bf16 (the top half of an f32) interleaved with zeros, per 128-bit lane: "paired" order,
 * a = k..k+3, k+8..k+11 and b = k+4..k+7, k+12..k+15. */
INLINE void load16(const unsigned char *row, int64_t k, enum mlxc_dtype dt, __m256 *a, __m256 *b)
{
    if (dt == MLXC_BF16) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(row + 2 * k)), z = _mm256_setzero_si256();
        *a = _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, x));
        *b = _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, x));
    } else {
        *a = load8(row, k, dt);
        *b = load8(row, k + 8, dt);
    }
}

/* Natural <-> paired order (load16) of n floats, n a multiple of 16: the swap of the middle 128-bit
 * quarters of each 16 is its own inverse. src and dst may be the same. */
INLINE void pair_order(const float *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __m256 x = _mm256_loadu_ps(src + i), y = _mm256_loadu_ps(src + i + 8);
        _mm256_storeu_ps(dst + i, _mm256_permute2f128_ps(x, y, 0x20));
        _mm256_storeu_ps(dst + i + 8, _mm256_permute2f128_ps(x, y, 0x31));
    }
}

/* Prefetches the row `bytes` long at r into L1. */
INLINE void prefetch_row(const unsigned char *r, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)r + o, _MM_HINT_T0);
}

/* s[i*lds + p] for the nb (<= BLOCK) rows at k (stride rb bytes); the first query group prefetches the
 * rows BLOCK further on. */
INLINE void scores_block(const unsigned char *k, size_t rb, int nb, const float *q, int nq, int hd, __m256 sv,
                         float *s, int64_t lds, enum mlxc_dtype dt)
{
    const size_t row_bytes = (size_t)hd * (dt == MLXC_F32 ? 4 : 2);
    float qp[4 * MAX_HD] __attribute__((aligned(32))); /* bf16: a group's queries in paired order */
    for (int i0 = 0; i0 < nq; i0 += 4) {
        const int m = nq - i0 < 4 ? nq - i0 : 4;
        const float *q0 = q + (int64_t)i0 * hd;
        if (dt == MLXC_BF16) {
            pair_order(q0, qp, (int64_t)m * hd);
            q0 = qp;
        }
        const float *q1 = m > 1 ? q0 + hd : q0, *q2 = m > 2 ? q0 + 2 * hd : q0, *q3 = m > 3 ? q0 + 3 * hd : q0;
        for (int p = 0; p < nb; p += 2) {
            const unsigned char *r0 = k + (size_t)p * rb, *r1 = p + 1 < nb ? r0 + rb : r0;
            if (i0 == 0) {
                prefetch_row(r0 + BLOCK * rb, row_bytes);
                prefetch_row(r1 + BLOCK * rb, row_bytes);
            }
            __m256 a[8];
            for (int j = 0; j < 8; j++)
                a[j] = _mm256_setzero_ps();
            for (int d = 0; d < hd; d += 16) {
                __m256 k0a, k0b, k1a, k1b;
                load16(r0, d, dt, &k0a, &k0b);
                load16(r1, d, dt, &k1a, &k1b);
                const float *qi[4] = {q0 + d, q1 + d, q2 + d, q3 + d};
                for (int i = 0; i < 4; i++) {
                    const __m256 xa = _mm256_loadu_ps(qi[i]), xb = _mm256_loadu_ps(qi[i] + 8);
                    a[2 * i] = _mm256_fmadd_ps(xb, k0b, _mm256_fmadd_ps(xa, k0a, a[2 * i]));
                    a[2 * i + 1] = _mm256_fmadd_ps(xb, k1b, _mm256_fmadd_ps(xa, k1a, a[2 * i + 1]));
                }
            }
            float r[8]; /* (query i, row p + j) at lane 2i + j */
            _mm256_storeu_ps(r, _mm256_mul_ps(hsum8x8(a), sv));
            for (int i = 0; i < m; i++) {
                s[(int64_t)(i0 + i) * lds + p] = r[2 * i];
                if (p + 1 < nb)
                    s[(int64_t)(i0 + i) * lds + p + 1] = r[2 * i + 1];
            }
        }
    }
}

/* out[i*hd + d] += sum_p w[i*lds + p] v_p[d] over the nb rows at v (stride rb bytes); bf16: out in paired
 * order. */
INLINE void values_block(const unsigned char *v, size_t rb, int nb, const float *w, int nq, int64_t lds, int hd,
                         float *out, enum mlxc_dtype dt)
{
    const size_t row_bytes = (size_t)hd * (dt == MLXC_F32 ? 4 : 2);
    for (int i0 = 0; i0 < nq; i0 += 4) {
        const int m = nq - i0 < 4 ? nq - i0 : 4;
        const float *w0 = w + (int64_t)i0 * lds;
        const float *w1 = m > 1 ? w0 + lds : w0, *w2 = m > 2 ? w0 + 2 * lds : w0, *w3 = m > 3 ? w0 + 3 * lds : w0;
        float *o0 = out + (int64_t)i0 * hd;
        float *o1 = m > 1 ? o0 + hd : o0, *o2 = m > 2 ? o0 + 2 * hd : o0, *o3 = m > 3 ? o0 + 3 * hd : o0;
        for (int d = 0; d < hd; d += 16) {
            __m256 a0 = _mm256_loadu_ps(o0 + d), b0 = _mm256_loadu_ps(o0 + d + 8);
            __m256 a1 = _mm256_loadu_ps(o1 + d), b1 = _mm256_loadu_ps(o1 + d + 8);
            __m256 a2 = _mm256_loadu_ps(o2 + d), b2 = _mm256_loadu_ps(o2 + d + 8);
            __m256 a3 = _mm256_loadu_ps(o3 + d), b3 = _mm256_loadu_ps(o3 + d + 8);
            for (int p = 0; p < nb; p++) {
                if (i0 == 0 && d == 0) /* one row's prefetch per row of the first pass, not a burst */
                    prefetch_row(v + (size_t)(p + BLOCK) * rb, row_bytes);
                __m256 v0, v1;
                load16(v + (size_t)p * rb, d, dt, &v0, &v1);
                __m256 x = _mm256_broadcast_ss(w0 + p);
                a0 = _mm256_fmadd_ps(x, v0, a0);
                b0 = _mm256_fmadd_ps(x, v1, b0);
                x = _mm256_broadcast_ss(w1 + p);
                a1 = _mm256_fmadd_ps(x, v0, a1);
                b1 = _mm256_fmadd_ps(x, v1, b1);
                x = _mm256_broadcast_ss(w2 + p);
                a2 = _mm256_fmadd_ps(x, v0, a2);
                b2 = _mm256_fmadd_ps(x, v1, b2);
                x = _mm256_broadcast_ss(w3 + p);
                a3 = _mm256_fmadd_ps(x, v0, a3);
                b3 = _mm256_fmadd_ps(x, v1, b3);
            }
            /* padded queries alias o0 and hold the same sums */
            _mm256_storeu_ps(o3 + d, a3);
            _mm256_storeu_ps(o3 + d + 8, b3);
            _mm256_storeu_ps(o2 + d, a2);
            _mm256_storeu_ps(o2 + d + 8, b2);
            _mm256_storeu_ps(o1 + d, a1);
            _mm256_storeu_ps(o1 + d + 8, b1);
            _mm256_storeu_ps(o0 + d, a0);
            _mm256_storeu_ps(o0 + d + 8, b0);
        }
    }
}

/* One body per cache dtype, so that load8 and the row sizes are constants in the loops. */
#define DEFINE_ATT(SUFFIX, DT)                                                                              \
    static void scores_##SUFFIX(const unsigned char *k, size_t rb, int64_t n, const float *q, int nq, int hd, \
                                float scale, float *s, int64_t lds)                                         \
    {                                                                                                       \
        const __m256 sv = _mm256_set1_ps(scale);                                                            \
        for (int64_t p0 = 0; p0 < n; p0 += BLOCK)                                                           \
            scores_block(k + (size_t)p0 * rb, rb, n - p0 < BLOCK ? (int)(n - p0) : BLOCK, q, nq, hd, sv,    \
                         s + p0, lds, DT);                                                                  \
    }                                                                                                       \
    static void values_##SUFFIX(const unsigned char *v, size_t rb, int64_t n, const float *w, int nq,        \
                                int64_t lds, int hd, float *out)                                            \
    {                                                                                                       \
        for (int64_t p0 = 0; p0 < n; p0 += BLOCK)                                                           \
            values_block(v + (size_t)p0 * rb, rb, n - p0 < BLOCK ? (int)(n - p0) : BLOCK, w + p0, nq, lds,  \
                         hd, out, DT);                                                                      \
    }
DEFINE_ATT(f32, MLXC_F32)
DEFINE_ATT(f16, MLXC_F16)
DEFINE_ATT(bf16, MLXC_BF16)

void mlxc_att_scores_avx2(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq, int hd,
                          float scale, float *s, int64_t lds)
{
    const size_t rb = (size_t)ld * (dt == MLXC_F32 ? 4 : 2);
    if (hd % 16 || hd > MAX_HD)
        mlxc_kernels_ref.att_scores(k, dt, ld, n, q, nq, hd, scale, s, lds);
    else if (dt == MLXC_F32)
        scores_f32(k, rb, n, q, nq, hd, scale, s, lds);
    else if (dt == MLXC_F16)
        scores_f16(k, rb, n, q, nq, hd, scale, s, lds);
    else
        scores_bf16(k, rb, n, q, nq, hd, scale, s, lds);
}

void mlxc_att_values_avx2(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq,
                          int64_t lds, int hd, float *out)
{
    const size_t rb = (size_t)ld * (dt == MLXC_F32 ? 4 : 2);
    if (hd % 16) {
        mlxc_kernels_ref.att_values(v, dt, ld, n, w, nq, lds, hd, out);
        return;
    }
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    if (dt == MLXC_F32)
        values_f32(v, rb, n, w, nq, lds, hd, out);
    else if (dt == MLXC_F16)
        values_f16(v, rb, n, w, nq, lds, hd, out);
    else {
        values_bf16(v, rb, n, w, nq, lds, hd, out);
        pair_order(out, out, (int64_t)nq * hd);
    }
}
