/* AVX2 + FMA + F16C float kernels (built with -mavx2 -mfma -mf16c; chosen at run time only on CPUs that
 * have them). Same contracts as kernels_ref.c. Decode is memory-bound: each weight row is streamed once
 * and four rows share every load of x. */
#include <immintrin.h>
#include <string.h>

#include "core/half.h"
#include "core/kernels.h"

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 weights of row r at column k, as f32. */
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

static inline float scalar_f32(const unsigned char *row, int64_t k)
{
    float f;
    memcpy(&f, row + 4 * k, 4);
    return f;
}
static inline float scalar_f16(const unsigned char *row, int64_t k)
{
    uint16_t h;
    memcpy(&h, row + 2 * k, 2);
    return mlxc_f16_to_f32(h);
}
static inline float scalar_bf16(const unsigned char *row, int64_t k)
{
    uint16_t h;
    memcpy(&h, row + 2 * k, 2);
    return mlxc_bf16_to_f32(h);
}

/* One generic body per weight dtype: 4 rows x 1 token per step, 8 columns per FMA. */
#define DEFINE_MATMUL(NAME, ESIZE, LOAD8, SCALAR)                                                          \
    static void NAME(const void *w, int64_t cols, const float *x, int64_t n, float *y, int64_t ldy,        \
                     int64_t r0, int64_t r1)                                                               \
    {                                                                                                      \
        const unsigned char *wb = w;                                                                       \
        const int64_t stride = cols * (ESIZE);                                                             \
        int64_t r = r0;                                                                                    \
        for (; r + 4 <= r1; r += 4) {                                                                      \
            const unsigned char *w0 = wb + r * stride, *w1 = w0 + stride, *w2 = w1 + stride,               \
                                *w3 = w2 + stride;                                                         \
            for (int64_t t = 0; t < n; t++) {                                                              \
                const float *xt = x + t * cols;                                                            \
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                \
                int64_t k = 0;                                                                             \
                for (; k + 8 <= cols; k += 8) {                                                            \
                    __m256 xv = _mm256_loadu_ps(xt + k);                                                   \
                    a0 = _mm256_fmadd_ps(LOAD8(w0, k), xv, a0);                                            \
                    a1 = _mm256_fmadd_ps(LOAD8(w1, k), xv, a1);                                            \
                    a2 = _mm256_fmadd_ps(LOAD8(w2, k), xv, a2);                                            \
                    a3 = _mm256_fmadd_ps(LOAD8(w3, k), xv, a3);                                            \
                }                                                                                          \
                float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);                          \
                for (; k < cols; k++) {                                                                    \
                    s0 += SCALAR(w0, k) * xt[k];                                                           \
                    s1 += SCALAR(w1, k) * xt[k];                                                           \
                    s2 += SCALAR(w2, k) * xt[k];                                                           \
                    s3 += SCALAR(w3, k) * xt[k];                                                           \
                }                                                                                          \
                float *yt = y + t * ldy + r;                                                               \
                yt[0] = s0;                                                                                \
                yt[1] = s1;                                                                                \
                yt[2] = s2;                                                                                \
                yt[3] = s3;                                                                                \
            }                                                                                              \
        }                                                                                                  \
        for (; r < r1; r++) {                                                                              \
            const unsigned char *w0 = wb + r * stride;                                                     \
            for (int64_t t = 0; t < n; t++) {                                                              \
                const float *xt = x + t * cols;                                                            \
                __m256 a0 = _mm256_setzero_ps();                                                           \
                int64_t k = 0;                                                                             \
                for (; k + 8 <= cols; k += 8)                                                              \
                    a0 = _mm256_fmadd_ps(LOAD8(w0, k), _mm256_loadu_ps(xt + k), a0);                       \
                float s0 = hsum(a0);                                                                       \
                for (; k < cols; k++)                                                                      \
                    s0 += SCALAR(w0, k) * xt[k];                                                           \
                y[t * ldy + r] = s0;                                                                       \
            }                                                                                              \
        }                                                                                                  \
    }

DEFINE_MATMUL(matmul_f32, 4, load8_f32, scalar_f32)
DEFINE_MATMUL(matmul_f16, 2, load8_f16, scalar_f16)
DEFINE_MATMUL(matmul_bf16, 2, load8_bf16, scalar_bf16)

static float dot(const float *a, const float *b, int64_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy(float a, const float *x, float *y, int64_t n)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* ---- attention ---- */

enum { ATT_MAXHD = 512, KBLK = 16 };

/* Rows [p0, p0 + nb) of a cache (row p at base + p*ld elements of dt) as f32 row pointers: F32 rows in
 * place, F16/BF16 rows converted into buf (nb * hd floats). */
static void rows_f32(const void *base, enum mlxc_dtype dt, int64_t ld, int64_t p0, int nb, int hd, float *buf,
                     const float **rows)
{
    for (int j = 0; j < nb; j++) {
        if (dt == MLXC_F32) {
            rows[j] = (const float *)base + (p0 + j) * ld;
            continue;
        }
        const unsigned char *src = (const unsigned char *)base + (size_t)((p0 + j) * ld) * 2;
        float *dst = buf + (int64_t)j * hd;
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(dst + d, dt == MLXC_F16 ? load8_f16(src, d) : load8_bf16(src, d));
        rows[j] = dst;
    }
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

/* Blocks of 8 keys (converted once) against every query: 8 accumulators per query, reduced together. */
static void att_scores(const void *k, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *q, int nq, int hd,
                       float scale, float *s, int64_t lds)
{
    if (hd % 8 || hd > ATT_MAXHD) {
        mlxc_kernels_ref.att_scores(k, dt, ld, n, q, nq, hd, scale, s, lds);
        return;
    }
    float buf[8 * ATT_MAXHD] __attribute__((aligned(32)));
    const float *rows[8];
    const __m256 sv = _mm256_set1_ps(scale);
    for (int64_t p0 = 0; p0 < n; p0 += 8) {
        const int nb = n - p0 < 8 ? (int)(n - p0) : 8;
        rows_f32(k, dt, ld, p0, nb, hd, buf, rows);
        for (int j = nb; j < 8; j++)
            rows[j] = rows[0]; /* padding lanes, not stored */
        for (int i = 0; i < nq; i++) {
            const float *qi = q + (int64_t)i * hd;
            __m256 acc[8];
            for (int j = 0; j < 8; j++)
                acc[j] = _mm256_setzero_ps();
            for (int d = 0; d < hd; d += 8) {
                __m256 qv = _mm256_loadu_ps(qi + d);
                for (int j = 0; j < 8; j++)
                    acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(rows[j] + d), qv, acc[j]);
            }
            __m256 r = _mm256_mul_ps(hsum8x8(acc), sv);
            float *dst = s + (int64_t)i * lds + p0;
            if (nb == 8) {
                _mm256_storeu_ps(dst, r);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, r);
                memcpy(dst, tmp, (size_t)nb * sizeof *dst);
            }
        }
    }
}

/* Blocks of KBLK values (converted once) into every query's output, 64 dimensions of accumulators at a
 * time. */
static void att_values(const void *v, enum mlxc_dtype dt, int64_t ld, int64_t n, const float *w, int nq,
                       int64_t lds, int hd, float *out)
{
    if (hd % 8 || hd > ATT_MAXHD) {
        mlxc_kernels_ref.att_values(v, dt, ld, n, w, nq, lds, hd, out);
        return;
    }
    float buf[KBLK * ATT_MAXHD] __attribute__((aligned(32)));
    const float *rows[KBLK];
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    for (int64_t p0 = 0; p0 < n; p0 += KBLK) {
        const int nb = n - p0 < KBLK ? (int)(n - p0) : KBLK;
        rows_f32(v, dt, ld, p0, nb, hd, buf, rows);
        for (int i = 0; i < nq; i++) {
            const float *wi = w + (int64_t)i * lds + p0;
            float *o = out + (int64_t)i * hd;
            for (int d0 = 0; d0 < hd; d0 += 64) {
                const int nv = hd - d0 < 64 ? (hd - d0) / 8 : 8;
                __m256 acc[8];
                for (int c = 0; c < nv; c++)
                    acc[c] = _mm256_loadu_ps(o + d0 + 8 * c);
                for (int j = 0; j < nb; j++) {
                    __m256 wv = _mm256_broadcast_ss(wi + j);
                    for (int c = 0; c < nv; c++)
                        acc[c] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(rows[j] + d0 + 8 * c), acc[c]);
                }
                for (int c = 0; c < nv; c++)
                    _mm256_storeu_ps(o + d0 + 8 * c, acc[c]);
            }
        }
    }
}

const struct mlxc_kernels mlxc_kernels_avx2 = {
    .isa = "avx2",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .dot = dot,
    .axpy = axpy,
    .att_scores = att_scores,
    .att_values = att_values,
};
