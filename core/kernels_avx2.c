/* AVX2 + FMA + F16C float kernels (built with -mavx2 -mfma -mf16c; chosen at run time only on CPUs that
 * have them). Same contracts as kernels_ref.c. Decode is memory-bound: each weight row is streamed once
 * and four rows share every load of x. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/avx2_util.h"
#include "core/half.h"
#include "core/kernels.h"

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

/* ---- max, exp ---- */

static float max_f32(const float *x, int64_t n)
{
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
    float m = hmax(m8);
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* silu(g) * u with e = e^-|g| (exp_neg's range): g / (1 + e^-g) is g / (1 + e) for g >= 0 and g e / (1 + e)
 * for g < 0, where e^-g would overflow for large |g|. */
static inline __m256 swiglu8(__m256 g, __m256 u)
{
    const __m256 e = exp_neg(_mm256_or_ps(g, _mm256_set1_ps(-0.0f))); /* -|g| */
    const __m256 neg = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 num = _mm256_blendv_ps(g, _mm256_mul_ps(g, e), neg);
    return _mm256_mul_ps(_mm256_div_ps(num, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void swiglu(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) { /* the last 1..7 through the same arithmetic, masked */
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(gate + i, m, swiglu8(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m)));
    }
}

static float exp_sum(float *y, const float *x, int64_t n, float m)
{
    const __m256 mv = _mm256_set1_ps(m);
    __m256 s8 = _mm256_setzero_ps();
    double s = 0.0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        if (y)
            _mm256_storeu_ps(y + i, e);
        s8 = _mm256_add_ps(s8, e);
        if ((i & 4095) == 4088) { /* fold into the double every 4096 terms */
            s += hsum(s8);
            s8 = _mm256_setzero_ps();
        }
    }
    s += hsum(s8);
    for (; i < n; i++) {
        float e = expf(x[i] - m);
        if (y)
            y[i] = e;
        s += e;
    }
    return (float)s;
}

/* 12 chains: enough to cover the FMA latency on both FMA ports (4 cycles x 2 on current x86 cores).
 * Written out: with an array of accumulators gcc keeps them in memory and measures the stores. */
static float fma_probe(int64_t n)
{
    /* Each chain starts from its own value: chains equal from the start are one chain to the compiler
     * (gcc 12 kept a single FMA per round, and the probe reported 1.5 times the machine's rate). */
    const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f), d = _mm256_set1_ps(1.0f / 1024);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_add_ps(a0, d), a2 = _mm256_add_ps(a1, d), a3 = _mm256_add_ps(a2, d);
    __m256 a4 = _mm256_add_ps(a3, d), a5 = _mm256_add_ps(a4, d), a6 = _mm256_add_ps(a5, d), a7 = _mm256_add_ps(a6, d);
    __m256 a8 = _mm256_add_ps(a7, d), a9 = _mm256_add_ps(a8, d), a10 = _mm256_add_ps(a9, d), a11 = _mm256_add_ps(a10, d);
    for (int64_t i = 0; i < n; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    return hsum(_mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
}

const struct mlxc_kernels mlxc_kernels_avx2 = {
    .isa = "avx2",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .dot = dot,
    .axpy = axpy,
    .max = max_f32,
    .exp_sum = exp_sum,
    .swiglu = swiglu,
    .fma_probe = fma_probe,
    .att_scores = mlxc_att_scores_avx2,
    .att_values = mlxc_att_values_avx2,
    .att_decode = mlxc_att_decode_avx2,
    .att_scores_q = mlxc_att_scores_q_avx2,
    .att_values_q = mlxc_att_values_q_avx2,
    .att_decode_q = mlxc_att_decode_q_avx2,
};
