/* Internal to quant/'s AVX2 library: activations quantized for the integer kernels (qmatmul_avx2.c for
 * decode, qgemm_avx2.c for prefill), and small helpers they share.
 *
 * x (n, cols) is quantized per block of 8 columns, columns padded with zeros to a multiple of 64, with a
 * two-level scale so that the kernels apply the block scales in integer arithmetic:
 *   D_t   one float per token: max_b d_b / 32767, d_b = max_{k in b} |x_k| / 127
 *   m_b   the block's scale in units of D_t: rint(d_b / D_t), an int16 in [0, 32767]
 *   xq_k  rint(x_k / (D_t m_b)) clamped to [-127, 127] (0 when m_b = 0)
 * so xhat_k = D_t m_b xq_k. The kernels form integer dot products of codes and xq per pair of columns
 * (vpmaddubsw), multiply each pair by its block's m_b and add pairs (vpmaddwd: int32, no overflow:
 * |pair| <= 2 * 128 * 127 and 2 * 32512 * 32767 < 2^31), convert to float once per chunk, multiply by the
 * weight scale, and scale the row's sum by D_t at the end. Error per element: |x_k - xhat_k| <=
 * d_b / 2 + max_k |x_k| / 65534 (the second term from rounding m_b), the first the same as llama.cpp's
 * Q8 activations with blocks of 8.
 *
 * Layouts, per token:
 *   q     cols64 int8. "split" order (4-bit nibble formats): within each 64-column chunk the 32 even
 *         columns, then the 32 odd ones, matching the low and high nibbles of 32 packed bytes (byte j =
 *         elements 2j, 2j+1). Otherwise natural order.
 *   m     int16 multipliers laid out as the 16 int16 lanes that vpmaddwd pairs with a chunk's vpmaddubsw
 *         result (32 bytes per chunk):
 *           split:   a 64-column chunk; int16 lanes 2k, 2k+1 cover columns 8k..8k+7 = block k
 *           natural: a 32-column chunk; int16 lanes 2k, 2k+1 cover columns 4k..4k+3 = block k/2
 *         so cols64/4 (split) or cols64/2 (natural) int16 per token.
 *   gsum  (cols/gs) sums of xhat per group for the affine bias term (gs >= 32 only). Not the exact sums of
 *         x: with these the kernels compute exactly sum_k w_k xhat_k, whose error sum_k w_k (x_k - xhat_k)
 *         involves w; the exact sums would leave sum_k scale q_k (x_k - xhat_k), scaled by the uncentred
 *         codes, several times larger (and worse still in groups that hold a weight outlier). */
#ifndef MLXC_QACT_AVX2_H
#define MLXC_QACT_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "core/sys.h"
#include "quant/quant.h"

#define INLINE static inline __attribute__((always_inline))

enum { QACT_TOK = 4 }; /* most tokens a kernel pass takes */

struct mlxc_qact {
    int64_t n, cols, cols64, ngroups, mlen;
    int split, gs; /* the layout (split order or natural) and the group size of the sums */
    int8_t *q;   /* (n, cols64) */
    int16_t *m;  /* (n, mlen) */
    float *D;    /* (n) */
    float *gsum; /* (n, ngroups) */
};

/* Quantizes x (n, cols) into arrays in the calling thread's scratch buffer `slot` (core/sys.h: kept
 * between calls, so that decode allocates nothing per token), valid until that thread asks for the slot
 * again; 0, or -1 when out of memory (callers then use the reference kernels). */
int mlxc_qact_init(struct mlxc_qact *X, enum mlxc_scratch_slot slot, const float *x, int64_t n, int64_t cols,
                   int split, int gs);
/* The same in steps, so that threads can quantize parts: the bytes of the arrays for n tokens, X laid out
 * over them at mem (64-byte aligned), then tokens [t0, t1) of x (n, cols), each independent of the others. */
size_t mlxc_qact_bytes(int64_t n, int64_t cols, int split, int gs);
void mlxc_qact_place(struct mlxc_qact *X, void *mem, int64_t n, int64_t cols, int split, int gs);
void mlxc_qact_quantize(struct mlxc_qact *X, const float *x, int64_t t0, int64_t t1);

/* Per-token views of tokens [t0, t0 + nt) (nt <= QACT_TOK). */
struct mlxc_qact_rows {
    const int8_t *q[QACT_TOK];
    const int16_t *m[QACT_TOK];
    const float *gsum[QACT_TOK];
    float D[QACT_TOK];
};

INLINE void mlxc_qact_rows_init(struct mlxc_qact_rows *R, const struct mlxc_qact *X, int64_t t0, const int nt)
{
    for (int t = 0; t < nt; t++) {
        R->q[t] = X->q + (t0 + t) * X->cols64;
        R->m[t] = X->m + (t0 + t) * X->mlen;
        R->gsum[t] = X->gsum + (t0 + t) * X->ngroups;
        R->D[t] = X->D[t0 + t];
    }
}

/* Prefill tiles (qgemm_avx2.c): y[t, r] for every token of X and rows [row0, row1), for the formats
 * mlxc_qgemm_avx2_has accepts (affine 4 and 8 bits; X quantized for them). 0, or -1 when out of memory. */
int mlxc_qgemm_avx2_has(const struct mlxc_qmatrix *m);
int mlxc_qgemm_avx2(const struct mlxc_qmatrix *m, const struct mlxc_qact *X, float *y, int64_t ldy, int64_t row0,
                    int64_t row1);

/* Elements [i0, i0 + n) of an F32/F16/BF16 scale or bias array, as f32 (exact conversions). */
void mlxc_qscalars_to_f32(const void *p, int64_t i0, int64_t n, enum mlxc_dtype t, float *out);

INLINE float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE float dot_f32(const float *a, const float *b, int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum8(acc);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* 32 bytes at p, of which only the first nbytes exist (the rest read as zero). */
INLINE __m256i load_partial(const uint8_t *p, int64_t nbytes)
{
    uint8_t buf[32] __attribute__((aligned(32))) = {0};
    memcpy(buf, p, (size_t)nbytes);
    return _mm256_load_si256((const __m256i *)buf);
}

/* Scale lanes for a 64-column chunk of affine 4-bit codes (lane k = columns 8k..8k+7): gs 32 covers two
 * groups, larger one. sf is zero-padded past the span's last group. */
INLINE __m256 chunk_scales(const float *sf, int64_t g, const int gs)
{
    if (gs == 32)
        return _mm256_set_m128(_mm_broadcast_ss(sf + g + 1), _mm_broadcast_ss(sf + g));
    return _mm256_broadcast_ss(sf + g);
}

#endif
