/* AVX2 + FMA + F16C quantized kernels (compiled with -mavx2 -mfma -mf16c -ffp-contract=off in their own
 * static library; chosen at run time by qdispatch.c). Same contracts as qmatmul_ref.c.
 *
 * qmatmul: affine (every width, group 32/64/128, F32/F16/BF16 scales), mxfp4 and nvfp4 quantize each
 * token of x once per call to int8 per block of 8 columns, like llama.cpp's Q8 activations:
 *     d_b = max_{k in b} |x_k| / 127,   xq_k = rint(x_k * 127 / max_{k in b} |x_k|)  in [-127, 127]
 * and use integer dot products (vpmaddubsw u8 x s8 -> s16 pairs, vpmaddwd -> s32):
 *     affine:  sum_k w_k xhat_k = sum_g (scale_g * sum_{k in g} q_k xhat_k + bias_g * sum_{k in g} xhat_k)
 *              with xhat_k = d_b xq_k, sum q xhat = sum_b d_b * (integer dot of block b).
 *     fp4:     element values times 2 are the integers 0, +-1, +-2, +-3, +-4, +-6, +-8, +-12.
 * Codes of 4 bits are split into nibbles in place; 2, 3, 5 and 6 bits are unpacked to bytes (pshufb,
 * pmullw as a per-lane shift); 8 bits are used as they are.
 * mxfp8 keeps x in f32 and decodes E4M3 through F16C.
 * Each packed weight is loaded once per pass over the tokens; tokens are processed 4 at a time, so
 * decode (n = 1) reads the matrix once and prefill reads it n/4 times from cache (rows are blocked).
 *
 * Why int8 activations (measured on the 2-core Xeon this was written on, one core, data in cache): an
 * AVX2 kernel that widens 4-bit codes to f32 and multiplies by x in f32 reads 5.8 GB/s of packed weights,
 * under one core's memory bandwidth (about 12 GB/s), while this one reads 12.7 GB/s; and for prefill this
 * kernel gave 3-4x the GFLOP/s of dequantizing and calling OpenBLAS sgemm (n = 8 to 256).
 *
 * dequantize: affine 4/8-bit and mxfp4 vectorised, exactly equal to the reference (multiply, then add;
 * this library is built with -ffp-contract=off); other formats call the reference. */
#include <immintrin.h>
#include <stdlib.h>

#include "core/sys.h"
#include "quant/qact_avx2.h"
#include "quant/qformat.h"
#include "quant/qkernels.h"

_Static_assert(sizeof(__m256i) == 32 && sizeof(__m256) == 32, "AVX2 vectors are 32 bytes");

enum {
    TOK = QACT_TOK, /* tokens per pass over a block of rows */
    SPAN = 4096,   /* columns whose scales are converted to f32 at a time (stack buffers) */
    ROWBLK = 1 << 18, /* bytes of packed rows kept hot while all token blocks pass over them */
    TCHUNK = 256,     /* tokens of x quantized at a time */
    PREPARE_MAX = 512, /* most tokens prepared at once (a prefill piece: MLXC_STATE_ROWS) */
    PREFETCH = 4096,  /* bytes ahead in the weight stream: the hardware prefetcher alone does not run far
                       * enough ahead of a loop this busy, and memory time would add to compute time */
};

_Static_assert(SPAN % 128 == 0, "a span holds whole groups of every size and whole 64-column chunks");
_Static_assert(TCHUNK % TOK == 0, "token chunks hold whole token blocks");

/* With one or two tokens, consecutive chunks alternate between two sets of accumulators: a single chain of
 * dependent FMAs (4 cycles each) would otherwise bound a row at one chunk per 4 cycles. */
#define ALT(nt, acc, acc2) ((nt) <= 2 ? (acc2) : (acc))

INLINE void acc_init(__m256 *acc, __m256 *acc2, const int nt)
{
    for (int t = 0; t < nt; t++)
        acc[t] = acc2[t] = _mm256_setzero_ps();
}

INLINE float acc_sum(const __m256 *acc, const __m256 *acc2, int t, const int nt)
{
    return hsum8(nt <= 2 ? _mm256_add_ps(acc[t], acc2[t]) : acc[t]);
}

/* ======================= affine 4-bit ======================= */

/* One 64-column chunk of 32 packed bytes for nt tokens: acc[t] += sv * (q . m_t xq_t) per lane. */
INLINE void aff4_chunk(__m256i w, __m256 sv, const struct mlxc_qact_rows *X, const int nt, int64_t c, __m256 *acc)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(w, m4), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
    for (int t = 0; t < nt; t++) {
        const int8_t *q = X->q[t] + c;
        __m256i xe = _mm256_loadu_si256((const __m256i *)q), xo = _mm256_loadu_si256((const __m256i *)(q + 32));
        /* u8 codes (<= 15) x s8: pair sums <= 2*15*127, the two added <= 7620: no s16 saturation */
        __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xe), _mm256_maddubs_epi16(hi, xo));
        __m256 pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_loadu_si256((const __m256i *)(X->m[t] + c / 4))));
        acc[t] = _mm256_fmadd_ps(pf, sv, acc[t]);
    }
}

INLINE void aff4_row(const struct mlxc_qmatrix *m, int64_t r, const struct mlxc_qact_rows *X, const int nt, const int gs,
                     float *out)
{
    const int64_t cols = m->cols, groups = cols / gs;
    const uint8_t *wr = (const uint8_t *)m->packed + r * (cols / 2);
    __m256 acc[TOK], acc2[TOK];
    float bacc[TOK] = {0};
    float sf[SPAN / 32 + 1], bf[SPAN / 32];
    acc_init(acc, acc2, nt);
    for (int64_t c0 = 0; c0 < cols; c0 += SPAN) {
        const int64_t c1 = c0 + SPAN < cols ? c0 + SPAN : cols, g0 = c0 / gs, ng = (c1 - c0) / gs;
        mlxc_qscalars_to_f32(m->scales, r * groups + g0, ng, m->scale_dtype, sf);
        mlxc_qscalars_to_f32(m->biases, r * groups + g0, ng, m->scale_dtype, bf);
        sf[ng] = 0.0f;
        for (int t = 0; t < nt; t++)
            bacc[t] += dot_f32(bf, X->gsum[t] + g0, ng);
        int64_t c = c0;
        for (; c + 128 <= c1; c += 128) {
            _mm_prefetch((const char *)(wr + c / 2 + PREFETCH), _MM_HINT_T0); /* cannot fault */
            aff4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2)), chunk_scales(sf, (c - c0) / gs, gs),
                       X, nt, c, acc);
            aff4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2 + 32)),
                       chunk_scales(sf, (c + 64 - c0) / gs, gs), X, nt, c + 64, ALT(nt, acc, acc2));
        }
        for (; c + 64 <= c1; c += 64)
            aff4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2)), chunk_scales(sf, (c - c0) / gs, gs),
                       X, nt, c, acc);
        if (c < c1) /* 32 columns left (gs 32) */
            aff4_chunk(load_partial(wr + c / 2, (c1 - c) / 2), chunk_scales(sf, (c - c0) / gs, gs), X, nt, c,
                       acc);
    }
    for (int t = 0; t < nt; t++)
        out[t] = X->D[t] * acc_sum(acc, acc2, t, nt) + bacc[t];
}

/* ======================= affine 8-bit ======================= */

/* One 32-column chunk of 8-bit codes. */
INLINE void aff8_chunk(__m256i w, __m256 sv, const struct mlxc_qact_rows *X, const int nt, int64_t c, __m256 *acc)
{
    /* s8 x s8 through vpmaddubsw: |q - 128| (<= 128, as u8) times xq with the sign of q - 128;
     * pair sums <= 2*128*127 = 32512, no saturation */
    __m256i ws = _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
    __m256i aw = _mm256_sign_epi8(ws, ws);
    for (int t = 0; t < nt; t++) {
        __m256i xs = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(X->q[t] + c)), ws);
        __m256i mv = _mm256_loadu_si256((const __m256i *)(X->m[t] + c / 2));
        __m256 pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), mv));
        acc[t] = _mm256_fmadd_ps(pf, sv, acc[t]);
    }
}

INLINE void aff8_row(const struct mlxc_qmatrix *m, int64_t r, const struct mlxc_qact_rows *X, const int nt, const int gs,
                     float *out)
{
    const int64_t cols = m->cols, groups = cols / gs;
    const uint8_t *wr = (const uint8_t *)m->packed + r * cols;
    __m256 acc[TOK], acc2[TOK];
    float bacc[TOK] = {0};
    float sf[SPAN / 32], bf[SPAN / 32];
    acc_init(acc, acc2, nt);
    for (int64_t c0 = 0; c0 < cols; c0 += SPAN) {
        const int64_t c1 = c0 + SPAN < cols ? c0 + SPAN : cols, g0 = c0 / gs, ng = (c1 - c0) / gs;
        mlxc_qscalars_to_f32(m->scales, r * groups + g0, ng, m->scale_dtype, sf);
        mlxc_qscalars_to_f32(m->biases, r * groups + g0, ng, m->scale_dtype, bf);
        /* q = (q - 128) + 128: the bias term becomes (bias + 128 scale) * sum xhat */
        for (int64_t g = 0; g < ng; g++)
            bf[g] += 128.0f * sf[g];
        for (int t = 0; t < nt; t++)
            bacc[t] += dot_f32(bf, X->gsum[t] + g0, ng);
        int64_t c = c0;
        for (; c + 64 <= c1; c += 64) {
            _mm_prefetch((const char *)(wr + c + PREFETCH), _MM_HINT_T0);
            aff8_chunk(_mm256_loadu_si256((const __m256i *)(wr + c)), _mm256_set1_ps(sf[(c - c0) / gs]), X, nt, c,
                       acc);
            aff8_chunk(_mm256_loadu_si256((const __m256i *)(wr + c + 32)), _mm256_set1_ps(sf[(c + 32 - c0) / gs]), X,
                       nt, c + 32, ALT(nt, acc, acc2));
        }
        if (c < c1)
            aff8_chunk(_mm256_loadu_si256((const __m256i *)(wr + c)), _mm256_set1_ps(sf[(c - c0) / gs]), X, nt, c,
                       acc);
    }
    for (int t = 0; t < nt; t++)
        out[t] = X->D[t] * acc_sum(acc, acc2, t, nt) + bacc[t];
}

/* ======================= affine 2, 3, 5, 6-bit ======================= */

/* Constants to unpack 32 codes of b bits (a 4b-byte LSB-first bit stream) into 32 bytes. The 32 codes are
 * four pieces of 8 codes, each exactly b bytes. One load puts bytes 0..15 in the low 128-bit lane and
 * bytes 2b..2b+15 in the high one, so lane 0 sees pieces 0 and 1, lane 1 pieces 2 and 3. For 16-bit lane
 * i (code i of a piece, at bit i*b) pshufb gathers bytes (i*b)/8 and (i*b)/8 + 1 of the piece (shuf0 for
 * pieces 0 | 2, shuf1 the same plus b for pieces 1 | 3); pmullw by 2^(8 - s), s = (i*b)%8, moves bit s
 * to bit 8 and drops bits s+8 and up; >> 8, packus and the mask leave the code. */
struct unpack_consts {
    __m256i shuf0, shuf1, mul, mask;
};

static struct unpack_consts unpack_consts(int b)
{
    uint8_t sh[2][32];
    uint16_t mu[16];
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 8; i++) {
            int bit = i * b;
            for (int h = 0; h < 2; h++) {
                sh[h][16 * l + 2 * i] = (uint8_t)((bit >> 3) + h * b);
                sh[h][16 * l + 2 * i + 1] = (uint8_t)((bit >> 3) + 1 + h * b);
            }
            mu[8 * l + i] = (uint16_t)(1u << (8 - (bit & 7)));
        }
    struct unpack_consts k;
    k.shuf0 = _mm256_loadu_si256((const __m256i *)sh[0]);
    k.shuf1 = _mm256_loadu_si256((const __m256i *)sh[1]);
    k.mul = _mm256_loadu_si256((const __m256i *)mu);
    k.mask = _mm256_set1_epi8((char)((1 << b) - 1));
    return k;
}

/* 32 codes at p, natural order, as bytes. Reads 16 - 2b bytes past the 4b bytes of the codes. */
INLINE __m256i unpack32(const uint8_t *p, const int b, const struct unpack_consts *k)
{
    __m256i v = _mm256_loadu2_m128i((const __m128i *)(p + 2 * b), (const __m128i *)p);
    __m256i a = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(v, k->shuf0), k->mul), 8);
    __m256i c = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(v, k->shuf1), k->mul), 8);
    /* packus interleaves per lane: [a.lo, c.lo | a.hi, c.hi] = codes [0-7, 8-15 | 16-23, 24-31] */
    return _mm256_and_si256(_mm256_packus_epi16(a, c), k->mask);
}

/* One 32-column chunk of unpacked codes (<= 63): u8 x s8 with x in natural order, pair sums
 * <= 2*63*127, no saturation. */
INLINE void affn_chunk(__m256i codes, __m256 sv, const struct mlxc_qact_rows *X, const int nt, int64_t c, __m256 *acc)
{
    for (int t = 0; t < nt; t++) {
        __m256i xq = _mm256_loadu_si256((const __m256i *)(X->q[t] + c));
        __m256i mv = _mm256_loadu_si256((const __m256i *)(X->m[t] + c / 2));
        __m256 pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(codes, xq), mv));
        acc[t] = _mm256_fmadd_ps(pf, sv, acc[t]);
    }
}

/* Affine with b = 2, 3, 5 or 6 bits. The last chunks of a row are unpacked from a copy, so that the
 * over-read of unpack32 stays inside the row. */
INLINE void affn_row(const struct mlxc_qmatrix *m, int64_t r, const struct mlxc_qact_rows *X, const int nt, const int b,
                     const struct unpack_consts *k, float *out)
{
    const int gs = m->q.group_size, gshift = __builtin_ctz((unsigned)gs); /* gs is 32, 64 or 128 */
    const int64_t cols = m->cols, groups = cols / gs, row_bytes = cols * b / 8;
    const uint8_t *wr = (const uint8_t *)m->packed + r * row_bytes;
    __m256 acc[TOK], acc2[TOK];
    float bacc[TOK] = {0};
    float sf[SPAN / 32], bf[SPAN / 32];
    acc_init(acc, acc2, nt);
    for (int64_t c0 = 0; c0 < cols; c0 += SPAN) {
        const int64_t c1 = c0 + SPAN < cols ? c0 + SPAN : cols, g0 = c0 / gs, ng = (c1 - c0) / gs;
        /* chunks starting below cin can be unpacked in place: unpack32 at byte c*b/8 reads up to byte
         * c*b/8 + 2b + 16, which must stay inside the row (for 2 bits that is past the next chunk too) */
        const int64_t lim = (row_bytes - 2 * b - 16) * 8 / b;
        int64_t cin = lim < 0 ? 0 : lim / 32 * 32 + 32;
        cin = cin < c1 ? cin : c1;
        mlxc_qscalars_to_f32(m->scales, r * groups + g0, ng, m->scale_dtype, sf);
        mlxc_qscalars_to_f32(m->biases, r * groups + g0, ng, m->scale_dtype, bf);
        for (int t = 0; t < nt; t++)
            bacc[t] += dot_f32(bf, X->gsum[t] + g0, ng);
        int64_t c = c0;
        for (; c + 64 <= cin; c += 64) {
            const uint8_t *p = wr + c * b / 8;
            _mm_prefetch((const char *)(p + PREFETCH), _MM_HINT_T0);
            affn_chunk(unpack32(p, b, k), _mm256_set1_ps(sf[(c - c0) >> gshift]), X, nt, c, acc);
            affn_chunk(unpack32(p + 4 * b, b, k), _mm256_set1_ps(sf[(c + 32 - c0) >> gshift]), X, nt, c + 32,
                       ALT(nt, acc, acc2));
        }
        for (; c < c1; c += 32) {
            const uint8_t *p = wr + c * b / 8;
            __m256i codes;
            if (c < cin) {
                codes = unpack32(p, b, k);
            } else {
                uint8_t tmp[32] = {0};
                memcpy(tmp, p, (size_t)(4 * b));
                codes = unpack32(tmp, b, k);
            }
            affn_chunk(codes, _mm256_set1_ps(sf[(c - c0) >> gshift]), X, nt, c, acc);
        }
    }
    for (int t = 0; t < nt; t++)
        out[t] = X->D[t] * acc_sum(acc, acc2, t, nt) + bacc[t];
}

/* ======================= mxfp4, nvfp4 ======================= */

/* 2 * E2M1 value of each code, as s8: 0 1 2 3 4 6 8 12, then negated (code 8 is -0 -> 0). */
INLINE __m256i fp4x2_lut(void)
{
    return _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, 0, 1, 2, 3, 4, 6, 8, 12, 0,
                            -1, -2, -3, -4, -6, -8, -12);
}

/* Scale bytes [i0, i0 + n) as f32 times `mul`: E8M0 (2^(s-127), 2^-127 for 0) or E4M3 (F16C, see
 * e4m3x32_to_f32 below). Exact: the products are powers of two times at most 4 significant bits. */
static void scale_bytes_to_f32(const uint8_t *sb, int64_t n, int e4m3, float mul, float *out)
{
    int64_t i = 0;
    const __m256 vm = _mm256_set1_ps(e4m3 ? mul * 256.0f : mul);
    for (; i + 8 <= n; i += 8) {
        int64_t v;
        memcpy(&v, sb + i, 8);
        __m128i b = _mm_cvtsi64_si128(v);
        __m256 f;
        if (e4m3) {
            __m128i h = _mm_cvtepu8_epi16(b); /* E4M3 bits 6..0 -> f16 bits 13..7, sign -> bit 15: value/256 */
            h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7F)), 7),
                             _mm_slli_epi16(_mm_and_si128(h, _mm_set1_epi16(0x80)), 8));
            f = _mm256_cvtph_ps(h);
        } else {
            __m256i e = _mm256_cvtepu8_epi32(b);
            f = _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
            /* s == 0 means 2^-127, not 0 */
            f = _mm256_blendv_ps(f, _mm256_set1_ps(0x1p-127f), _mm256_castsi256_ps(_mm256_cmpeq_epi32(e, _mm256_setzero_si256())));
        }
        _mm256_storeu_ps(out + i, _mm256_mul_ps(f, vm));
    }
    for (; i < n; i++)
        out[i] = mul * (e4m3 ? mlxc_e4m3_value(sb[i]) : mlxc_e8m0_value(sb[i]));
}

/* One 64-column chunk of 32 packed FP4 bytes: acc[t] += sv * dv_t * (2v . xq_t) per lane. */
INLINE void fp4_chunk(__m256i w, __m256 sv, const struct mlxc_qact_rows *X, const int nt, int64_t c, __m256 *acc)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), lut = fp4x2_lut();
    __m256i vlo = _mm256_shuffle_epi8(lut, _mm256_and_si256(w, m4));
    __m256i vhi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(w, 4), m4));
    __m256i alo = _mm256_abs_epi8(vlo), ahi = _mm256_abs_epi8(vhi);
    for (int t = 0; t < nt; t++) {
        const int8_t *q = X->q[t] + c;
        /* s8 x s8 through vpmaddubsw: |2v| as u8 times xq with the sign of v */
        __m256i xe = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)q), vlo);
        __m256i xo = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(q + 32)), vhi);
        /* |2v| <= 12: pair sums <= 2*12*127 each, 6096 for both, no saturation */
        __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(alo, xe), _mm256_maddubs_epi16(ahi, xo));
        __m256 pf = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_loadu_si256((const __m256i *)(X->m[t] + c / 4))));
        acc[t] = _mm256_fmadd_ps(pf, sv, acc[t]);
    }
}

/* Scale lanes of the chunk whose first group is g (lane k = columns 8k..8k+7): mxfp4 (gs 32) two groups
 * of four lanes, nvfp4 (gs 16) four groups of two lanes. sf is zero-padded past the last group. */
INLINE __m256 fp4_chunk_scales(const float *sf, int64_t g, const int nv)
{
    if (!nv)
        return _mm256_set_m128(_mm_broadcast_ss(sf + g + 1), _mm_broadcast_ss(sf + g));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sf + g)),
                                    _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
}

INLINE void fp4_row(const struct mlxc_qmatrix *m, int64_t r, const struct mlxc_qact_rows *X, const int nt, const int nv,
                    float *out)
{
    const int gs = nv ? 16 : 32;
    const int64_t cols = m->cols, groups = cols / gs;
    const uint8_t *wr = (const uint8_t *)m->packed + r * (cols / 2);
    const uint8_t *sb = (const uint8_t *)m->scales + r * groups;
    __m256 acc[TOK], acc2[TOK];
    float sf[SPAN / 16 + 4];
    acc_init(acc, acc2, nt);
    for (int64_t c0 = 0; c0 < cols; c0 += SPAN) {
        const int64_t c1 = c0 + SPAN < cols ? c0 + SPAN : cols, g0 = c0 / gs, ng = (c1 - c0) / gs;
        /* the LUT holds 2v: fold the 1/2 into the scales */
        scale_bytes_to_f32(sb + g0, ng, nv, 0.5f, sf);
        memset(sf + ng, 0, 4 * sizeof(float));
        int64_t c = c0;
        for (; c + 128 <= c1; c += 128) {
            _mm_prefetch((const char *)(wr + c / 2 + PREFETCH), _MM_HINT_T0);
            fp4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2)), fp4_chunk_scales(sf, (c - c0) / gs, nv), X,
                      nt, c, acc);
            fp4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2 + 32)),
                      fp4_chunk_scales(sf, (c + 64 - c0) / gs, nv), X, nt, c + 64, ALT(nt, acc, acc2));
        }
        for (; c + 64 <= c1; c += 64)
            fp4_chunk(_mm256_loadu_si256((const __m256i *)(wr + c / 2)), fp4_chunk_scales(sf, (c - c0) / gs, nv), X,
                      nt, c, acc);
        if (c < c1)
            fp4_chunk(load_partial(wr + c / 2, (c1 - c) / 2), fp4_chunk_scales(sf, (c - c0) / gs, nv), X, nt, c, acc);
    }
    for (int t = 0; t < nt; t++)
        out[t] = X->D[t] * acc_sum(acc, acc2, t, nt);
}

/* ======================= mxfp8 (x in f32) ======================= */

/* 32 E4M3 bytes as 4 x 8 floats, each value / 256: the byte's low 7 bits go to bits 7..13 of an f16
 * (exponent bias 15 instead of 7, hence / 256; subnormals line up), the sign to bit 15; F16C converts. */
INLINE void e4m3x32_to_f32(__m256i b, __m256 f[4])
{
    __m256i hib = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 1), _mm256_set1_epi8(0x3F)),
                                  _mm256_and_si256(b, _mm256_set1_epi8((char)0x80)));
    __m256i lob = _mm256_and_si256(_mm256_slli_epi16(b, 7), _mm256_set1_epi8((char)0x80));
    __m256i u0 = _mm256_unpacklo_epi8(lob, hib); /* elements 0..7 | 16..23 */
    __m256i u1 = _mm256_unpackhi_epi8(lob, hib); /* elements 8..15 | 24..31 */
    f[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(u0));
    f[1] = _mm256_cvtph_ps(_mm256_castsi256_si128(u1));
    f[2] = _mm256_cvtph_ps(_mm256_extracti128_si256(u0, 1));
    f[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(u1, 1));
}

INLINE void fp8_row(const struct mlxc_qmatrix *m, int64_t r, const float *x, int64_t t0, const int nt, float *out)
{
    const int64_t cols = m->cols, groups = cols / 32;
    const uint8_t *wr = (const uint8_t *)m->packed + r * cols;
    const uint8_t *sb = (const uint8_t *)m->scales + r * groups;
    __m256 acc[TOK];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        __m256 f[4];
        _mm_prefetch((const char *)(wr + 32 * g + PREFETCH), _MM_HINT_T0);
        e4m3x32_to_f32(_mm256_loadu_si256((const __m256i *)(wr + 32 * g)), f);
        __m256 s = _mm256_set1_ps(mlxc_e8m0_value(sb[g]));
        for (int t = 0; t < nt; t++) {
            const float *xt = x + (t0 + t) * cols + 32 * g;
            /* two short chains, then the scale: the group sum is ready 12 cycles after the loads */
            __m256 a = _mm256_fmadd_ps(f[1], _mm256_loadu_ps(xt + 8), _mm256_mul_ps(f[0], _mm256_loadu_ps(xt)));
            __m256 b = _mm256_fmadd_ps(f[3], _mm256_loadu_ps(xt + 24), _mm256_mul_ps(f[2], _mm256_loadu_ps(xt + 16)));
            acc[t] = _mm256_fmadd_ps(_mm256_add_ps(a, b), s, acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) /* the 256 goes last, so a large scale cannot overflow early */
        out[t] = 256.0f * hsum8(acc[t]);
}

/* ======================= driver ======================= */

enum kind { K_AFF4, K_AFF8, K_AFFN, K_MXFP4, K_NVFP4, K_MXFP8, K_NONE };

static enum kind kind_of(const struct mlxc_qmatrix *m)
{
    switch (m->q.mode) {
    case MLXC_Q_AFFINE: return m->q.bits == 4 ? K_AFF4 : m->q.bits == 8 ? K_AFF8 : K_AFFN;
    case MLXC_Q_MXFP4: return K_MXFP4;
    case MLXC_Q_NVFP4: return K_NVFP4;
    case MLXC_Q_MXFP8: return K_MXFP8;
    }
    return K_NONE;
}

/* One row for nt (a constant after inlining) tokens starting at t0. */
INLINE void row_kernel(enum kind k, const struct mlxc_qmatrix *m, int64_t r, const struct mlxc_qact *X, const float *x,
                       int64_t t0, const int nt, const struct unpack_consts *uk, float *out)
{
    const int gs = m->q.group_size;
    struct mlxc_qact_rows R;
    if (k != K_MXFP8)
        mlxc_qact_rows_init(&R, X, t0, nt);
    switch (k) {
    case K_AFF4:
        if (gs == 32)
            aff4_row(m, r, &R, nt, 32, out);
        else if (gs == 64)
            aff4_row(m, r, &R, nt, 64, out);
        else
            aff4_row(m, r, &R, nt, 128, out);
        break;
    case K_AFF8:
        if (gs == 32)
            aff8_row(m, r, &R, nt, 32, out);
        else if (gs == 64)
            aff8_row(m, r, &R, nt, 64, out);
        else
            aff8_row(m, r, &R, nt, 128, out);
        break;
    case K_AFFN:
        if (m->q.bits == 2)
            affn_row(m, r, &R, nt, 2, uk, out);
        else if (m->q.bits == 3)
            affn_row(m, r, &R, nt, 3, uk, out);
        else if (m->q.bits == 5)
            affn_row(m, r, &R, nt, 5, uk, out);
        else
            affn_row(m, r, &R, nt, 6, uk, out);
        break;
    case K_MXFP4: fp4_row(m, r, &R, nt, 0, out); break;
    case K_NVFP4: fp4_row(m, r, &R, nt, 1, out); break;
    case K_MXFP8: fp8_row(m, r, x, t0, nt, out); break;
    case K_NONE: break;
    }
}

static void rows_nt(enum kind k, const struct mlxc_qmatrix *m, const struct mlxc_qact *X, const float *x, int64_t t0,
                    int nt, float *y, int64_t ldy, int64_t r0, int64_t r1)
{
    float out[TOK];
    const struct unpack_consts uk = unpack_consts(k == K_AFFN ? m->q.bits : 2);
    for (int64_t r = r0; r < r1; r++) {
        switch (nt) {
        case 1: row_kernel(k, m, r, X, x, t0, 1, &uk, out); break;
        case 2: row_kernel(k, m, r, X, x, t0, 2, &uk, out); break;
        case 3: row_kernel(k, m, r, X, x, t0, 3, &uk, out); break;
        default: row_kernel(k, m, r, X, x, t0, 4, &uk, out); break;
        }
        for (int t = 0; t < nt; t++)
            y[(t0 + t) * ldy + r] = out[t];
    }
}

/* tok: tokens per pass (TOK, or 2 for the exact variant). */
/* Tokens [0, n) of quantized activations X (x itself for mxfp8) through rows [row0, row1). */
static void rows_with(enum kind k, const struct mlxc_qmatrix *m, const struct mlxc_qact *X, const float *x,
                      int64_t n, float *y, int64_t ldy, int64_t row0, int64_t row1, int tok)
{
    if (mlxc_qgemm_avx2_has(m) && mlxc_qgemm_avx2(m, X, y, ldy, row0, row1) == 0)
        return;
    /* Blocks of rows small enough to stay in L2 while every block of tokens passes over them. */
    int64_t row_bytes = m->cols * m->q.bits / 8;
    int64_t rb = row_bytes > 0 && ROWBLK / row_bytes > 1 ? ROWBLK / row_bytes : 1;
    for (int64_t r0 = row0; r0 < row1; r0 += rb) {
        int64_t r1 = r0 + rb < row1 ? r0 + rb : row1;
        for (int64_t t0 = 0; t0 < n; t0 += tok)
            rows_nt(k, m, X, x, t0, n - t0 < tok ? (int)(n - t0) : tok, y, ldy, r0, r1);
    }
}

static int split_of(enum kind k) { return k == K_AFF4 || k == K_MXFP4 || k == K_NVFP4; }
static int gs_of(const struct mlxc_qmatrix *m) { return m->q.mode == MLXC_Q_AFFINE ? m->q.group_size : 0; }

/* tok: tokens per pass (TOK, or 2 for the exact variant). */
static void qmatmul_rows_tok(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                             int64_t row0, int64_t row1, int tok)
{
    enum kind k = kind_of(m);
    if (k == K_NONE) {
        mlxc_qkernels_ref.qmatmul_rows(m, x, n, y, ldy, row0, row1);
        return;
    }
    /* x is quantized TCHUNK tokens at a time, which bounds the buffer for long prompts; the weights are
     * then read once per TCHUNK tokens, a small cost next to the arithmetic of that many tokens. */
    for (int64_t tc = 0; tc < n; tc += TCHUNK) {
        int64_t nc = n - tc < TCHUNK ? n - tc : TCHUNK;
        const float *xc = x + tc * m->cols;
        float *yc = y + tc * ldy;
        struct mlxc_qact X = {0};
        if (k != K_MXFP8 &&
            mlxc_qact_init(&X, MLXC_SCRATCH_QACT_ROWS, xc, nc, m->cols, split_of(k), gs_of(m)) < 0) {
            mlxc_qkernels_ref.qmatmul_rows(m, xc, nc, yc, ldy, row0, row1);
            continue;
        }
        rows_with(k, m, &X, xc, nc, yc, ldy, row0, row1, tok);
    }
}

/* Activations quantized once for calls over many row ranges (chunks of rows taken by threads): room for
 * n tokens, then the tokens, in parts by different threads if wanted. The struct and its arrays are the
 * calling thread's MLXC_SCRATCH_QACT buffer (one product prepared at a time per thread: quant/quant.h), so
 * decode allocates nothing per product. */
static void *avx2_prepare_alloc(const struct mlxc_qmatrix *m, int64_t n)
{
    enum { HEAD = 128 }; /* the struct, then the arrays on a cache line */
    _Static_assert(sizeof(struct mlxc_qact) <= HEAD, "the struct fits in front of the arrays");
    enum kind k = kind_of(m);
    if (k == K_NONE || k == K_MXFP8 || n > PREPARE_MAX)
        return NULL;
    char *mem = mlxc_thread_scratch(MLXC_SCRATCH_QACT, HEAD + mlxc_qact_bytes(n, m->cols, split_of(k), gs_of(m)));
    if (!mem)
        return NULL;
    mlxc_qact_place((struct mlxc_qact *)mem, mem + HEAD, n, m->cols, split_of(k), gs_of(m));
    return mem;
}

static void avx2_prepare_tokens(void *prep, const float *x, int64_t t0, int64_t t1)
{
    mlxc_qact_quantize(prep, x, t0, t1);
}

static void avx2_qmatmul_prepared(const struct mlxc_qmatrix *m, const void *prep, const float *x, int64_t n,
                                  float *y, int64_t ldy, int64_t row0, int64_t row1, int exact)
{
    rows_with(kind_of(m), m, prep, x, n, y, ldy, row0, row1, exact ? 2 : TOK);
}

static void avx2_release(void *prep) { (void)prep; /* the thread's scratch: kept for the next product */ }

static void avx2_qmatmul_rows(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y, int64_t ldy,
                              int64_t row0, int64_t row1)
{
    qmatmul_rows_tok(m, x, n, y, ldy, row0, row1, TOK);
}

/* Passes of one or two tokens run the same arithmetic per token (ALT and acc_sum treat nt <= 2 alike:
 * two alternating accumulators), so every token gets what it gets alone; three or four tokens share one
 * accumulator each, which rounds differently. */
static void avx2_qmatmul_rows_exact(const struct mlxc_qmatrix *m, const float *x, int64_t n, float *y,
                                    int64_t ldy, int64_t row0, int64_t row1)
{
    qmatmul_rows_tok(m, x, n, y, ldy, row0, row1, 2);
}

/* ======================= dequantize ======================= */

/* 8 consecutive 4-bit codes of one little-endian 32-bit word, as int32 lanes in element order. */
INLINE __m256i nibbles8(const uint8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)word), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                            _mm256_set1_epi32(15));
}

static void avx2_dequantize_rows(const struct mlxc_qmatrix *m, int64_t row0, int64_t nrows, float *out)
{
    enum kind k = kind_of(m);
    if (k != K_AFF4 && k != K_AFF8 && k != K_MXFP4) {
        mlxc_qkernels_ref.dequantize_rows(m, row0, nrows, out);
        return;
    }
    const int gs = m->q.group_size;
    const int64_t cols = m->cols, groups = cols / gs, row_bytes = mlxc_qrow_bytes(m);
    const __m256 lut_lo = _mm256_loadu_ps(mlxc_fp4_values), lut_hi = _mm256_loadu_ps(mlxc_fp4_values + 8);
    for (int64_t i = 0; i < nrows; i++) {
        int64_t r = row0 + i;
        const uint8_t *wr = (const uint8_t *)m->packed + r * row_bytes;
        float *o = out + i * cols;
        for (int64_t g = 0; g < groups; g++) {
            int64_t gi = r * groups + g;
            if (k == K_MXFP4) {
                __m256 s = _mm256_set1_ps(mlxc_e8m0_value(((const uint8_t *)m->scales)[gi]));
                for (int j = 0; j < gs; j += 8) {
                    __m256i idx = nibbles8(wr + (g * gs + j) / 2);
                    /* codes 0..7 from the first half of the table, 8..15 from the second (bit 3 -> sign bit) */
                    __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lut_lo, idx),
                                                _mm256_permutevar8x32_ps(lut_hi, idx),
                                                _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
                    _mm256_storeu_ps(o + g * gs + j, _mm256_mul_ps(v, s));
                }
                continue;
            }
            __m256 s = _mm256_set1_ps(mlxc_load_scalar(m->scales, gi, m->scale_dtype));
            __m256 b = _mm256_set1_ps(mlxc_load_scalar(m->biases, gi, m->scale_dtype));
            for (int j = 0; j < gs; j += 8) {
                __m256i q;
                if (k == K_AFF4) {
                    q = nibbles8(wr + (g * gs + j) / 2);
                } else {
                    int64_t v;
                    memcpy(&v, wr + g * gs + j, 8);
                    q = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v));
                }
                /* scale * q, then + bias: two roundings, as the reference */
                __m256 t = _mm256_mul_ps(s, _mm256_cvtepi32_ps(q));
                _mm256_storeu_ps(o + g * gs + j, _mm256_add_ps(t, b));
            }
        }
    }
}

static int avx2_has(const struct mlxc_qmatrix *m)
{
    return kind_of(m) != K_NONE;
}

const struct mlxc_qkernels mlxc_qkernels_avx2 = {
    .name = "avx2",
    .has = avx2_has,
    .qmatmul_rows = avx2_qmatmul_rows,
    .qmatmul_rows_exact = avx2_qmatmul_rows_exact,
    .dequantize_rows = avx2_dequantize_rows,
    .prepare_alloc = avx2_prepare_alloc,
    .prepare_tokens = avx2_prepare_tokens,
    .qmatmul_prepared = avx2_qmatmul_prepared,
    .release = avx2_release,
};
