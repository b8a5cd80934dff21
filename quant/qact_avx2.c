/* Activations quantized for the AVX2 integer kernels: two-level int8 (qact_avx2.h has the format). */
#include "quant/qact_avx2.h"

#include <math.h>

#include "core/half.h"
#include "core/sys.h"

void mlxc_qscalars_to_f32(const void *p, int64_t i0, int64_t n, enum mlxc_dtype t, float *out)
{
    const uint8_t *b = (const uint8_t *)p;
    int64_t i = 0;
    if (t == MLXC_F32) {
        memcpy(out, b + 4 * i0, (size_t)n * 4);
        return;
    }
    b += 2 * i0;
    if (t == MLXC_BF16) {
        for (; i + 8 <= n; i += 8) /* bf16 is the top half of an f32 */
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(
                                          _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(b + 2 * i))), 16)));
    } else {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + 2 * i))));
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, b + 2 * i, 2);
        out[i] = t == MLXC_BF16 ? mlxc_bf16_to_f32(h) : _cvtsh_ss(h);
    }
}

/* The largest block scale of a token, max_b d_b = max |x| / 127 (division is monotonic, so this is the
 * same float as the largest of the d_b). */
static float token_dmax(const float *x, int64_t cols)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    float amax = hmax8(m);
    for (; j < cols; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    return amax / 127.0f;
}

/* 32 floats (4 blocks, block scales d_b = max |x| / 127 over the block's 8): int8 codes in natural
 * order, the blocks' multipliers m_b, and the sum of the quantized values xhat. */
INLINE void quantize_32(const float *x, float D, int8_t *q, int16_t mb[4], float *sum)
{
    const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 r = _mm256_setzero_ps();
    __m256i qi[4];
    for (int i = 0; i < 4; i++) {
        const float d = hmax8(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i))) / 127.0f;
        int m = D > 0.0f ? (int)rintf(d / D) : 0;
        m = m < 32767 ? m : 32767;
        mb[i] = (int16_t)m;
        float e = D * (float)m, inv = m ? 1.0f / e : 0.0f;
        /* cvtps rounds to nearest even (MXCSR default); e may lie a hair under d_b: clamp to +-127 */
        qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), _mm256_set1_ps(inv)));
        qi[i] = _mm256_max_epi32(_mm256_min_epi32(qi[i], lim), nlim);
        r = _mm256_fmadd_ps(_mm256_set1_ps(e), _mm256_cvtepi32_ps(qi[i]), r);
    }
    *sum = hsum8(r);
    /* pack 32 -> 16 -> 8 bits; the packs work per 128-bit lane, the permute restores element order */
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, b);
}

/* Reorders a 64-byte chunk from natural to split order: 32 even elements, then 32 odd ones. */
INLINE void split_chunk(const int8_t *nat, int8_t *out)
{
    /* per 128-bit lane: 8 even bytes, then 8 odd bytes */
    const __m256i sh = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10,
                                        12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    __m256i a = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)nat), sh);        /* eA0 oA0 eA1 oA1 */
    __m256i b = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(nat + 32)), sh); /* eB0 oB0 eB1 oB1 */
    __m256i e = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(a, b), 0xD8); /* eA0 eA1 eB0 eB1 */
    __m256i o = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b), 0xD8); /* oA0 oA1 oB0 oB1 */
    _mm256_storeu_si256((__m256i *)out, e);
    _mm256_storeu_si256((__m256i *)(out + 32), o);
}

static void quantize_token(const float *x, int64_t cols, int64_t cols64, int split, int gs, int8_t *q, int16_t *m,
                           float *D, float *gsum)
{
    int8_t nat[64] __attribute__((aligned(32)));
    int16_t mb[8];
    float bsum, gacc = 0.0f;
    const float Dt = token_dmax(x, cols) / 32767.0f;
    *D = Dt;
    for (int64_t c = 0; c < cols64; c += 64) {
        for (int h = 0; h < 2; h++) {
            int64_t j0 = c + 32 * h;
            if (j0 + 32 <= cols) {
                quantize_32(x + j0, Dt, nat + 32 * h, mb + 4 * h, &bsum);
            } else { /* the padding: a partial piece (16 columns, nvfp4) or none */
                float tmp[32] = {0};
                if (j0 < cols)
                    memcpy(tmp, x + j0, (size_t)(cols - j0) * sizeof(float));
                quantize_32(tmp, Dt, nat + 32 * h, mb + 4 * h, &bsum);
            }
            if (gs >= 32 && j0 < cols) { /* group sums; groups are whole pieces of 32 */
                gacc += bsum;
                if ((j0 + 32) % gs == 0) {
                    gsum[j0 / gs] = gacc;
                    gacc = 0.0f;
                }
            }
        }
        if (split) {
            split_chunk(nat, q + c);
            for (int k = 0; k < 16; k++) /* int16 lanes 2k, 2k+1: block k */
                m[c / 4 + k] = mb[k / 2];
        } else {
            memcpy(q + c, nat, 64);
            for (int k = 0; k < 32; k++) /* per 32-column chunk, int16 lane j: block j / 4 */
                m[c / 2 + k] = mb[k / 4];
        }
    }
}

/* X's shape for n tokens of cols columns (every field but the arrays). */
static void set_shape(struct mlxc_qact *X, int64_t n, int64_t cols, int split, int gs)
{
    X->n = n;
    X->cols = cols;
    X->split = split;
    X->gs = gs;
    X->cols64 = (cols + 63) / 64 * 64;
    X->ngroups = gs >= 32 ? cols / gs : 0;
    X->mlen = X->cols64 / (split ? 4 : 2);
}

/* The arrays, one after the other: gsum (n, ngroups) and D (n) float, m (n, mlen) int16, q (n, cols64) int8. */
size_t mlxc_qact_bytes(int64_t n, int64_t cols, int split, int gs)
{
    struct mlxc_qact X;
    set_shape(&X, n, cols, split, gs);
    return (size_t)(n * (X.ngroups + 1)) * sizeof(float) + (size_t)(n * X.mlen) * sizeof(int16_t) +
           (size_t)(n * X.cols64);
}

void mlxc_qact_place(struct mlxc_qact *X, void *mem, int64_t n, int64_t cols, int split, int gs)
{
    set_shape(X, n, cols, split, gs);
    X->gsum = (float *)mem;
    X->D = X->gsum + n * X->ngroups;
    X->m = (int16_t *)(X->D + n);
    X->q = (int8_t *)(X->m + n * X->mlen);
}

void mlxc_qact_quantize(struct mlxc_qact *X, const float *x, int64_t t0, int64_t t1)
{
    for (int64_t t = t0; t < t1; t++)
        quantize_token(x + t * X->cols, X->cols, X->cols64, X->split, X->gs, X->q + t * X->cols64,
                       X->m + t * X->mlen, X->D + t, X->gsum + t * X->ngroups);
}

int mlxc_qact_init(struct mlxc_qact *X, enum mlxc_scratch_slot slot, const float *x, int64_t n, int64_t cols,
                   int split, int gs)
{
    void *mem = mlxc_thread_scratch(slot, mlxc_qact_bytes(n, cols, split, gs));
    if (!mem)
        return -1;
    mlxc_qact_place(X, mem, n, cols, split, gs);
    mlxc_qact_quantize(X, x, 0, n);
    return 0;
}
