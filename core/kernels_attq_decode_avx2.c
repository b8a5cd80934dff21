/* AVX2 decode attention over a 4- or 8-bit quantized KV cache in one pass (att_decode_q in core/kernels.h),
 * as the float caches' att_decode does (kernels_att_avx2.c): per block of rows the scores of every query,
 * the running softmax, the values; the two passes of kernels_attq_avx2.c take the other widths and heads
 * past this one's buffers. The sums are MLX quantized_matmul's, per group g of a head's codes:
 *   scores  q . k_p          = sum_g scale_pg * (q_g . codes_pg) + bias_pg * sum(q_g)
 *   values  sum_p w_p v_p[d] = sum_p (w_p * scale_pg) * codes_p[d] + sum_p w_p * bias_pg   (g: d's group)
 * Both multiply integers with vpmaddwd: the queries rounded to int16 per group as in the two passes, and
 * a quad's weights times each row's scale rounded to int16 per block and query (2^-16 of the largest; MLX
 * rounds the weights to bf16), two rows' weights against the two rows' codes per instruction, which leaves
 * the FMA ports a third less to do than f32 FMAs on converted codes. Queries go in quads as in the float
 * caches' one pass (quad_group in core/att_avx2.h): 4 of one kv head, or of 2 or 4 heads where a head has
 * 2 or 1 (no padded arithmetic for MHA models and 2 query heads per kv head).
 * The codes are read where they lie: 8-bit codes are bytes; 4-bit ones are widened from their packed
 * bytes with the low nibble (even code) and the high one (odd code) in separate vectors, so the int16
 * queries are put in that "nibble" order once per call, and the values come out in it and are put back
 * at the end. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/attq_avx2.h"
#include "core/kernels.h"
#include "quant/qformat.h"

enum {
    DECODE_HD = 256,        /* one pass: largest head */
    MAX_G = DECODE_HD / 32, /* groups of a head */
    MAX_HG = 64,            /* (kv head, group) pairs of a row */
};

/* int16 queries for 4-bit rows, in nibble order: per 32 elements the 16 even ones, then the 16 odd ones
 * (16 packed bytes widened to words hold codes 2t and 2t + 1 in word t's low and high nibble). */
static void nibble_order_i16(int16_t *y, int64_t n)
{
    /* per 128-bit lane: the 4 even words, then the 4 odd */
    const __m256i sel = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13,
                                         2, 3, 6, 7, 10, 11, 14, 15);
    for (int64_t i = 0; i < n; i += 32) {
        /* a = the 8 even words of y[i..i+15], then its 8 odd; b the same of y[i+16..i+31] */
        const __m256i a = _mm256_permute4x64_epi64(
            _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(y + i)), sel), 0xD8);
        const __m256i b = _mm256_permute4x64_epi64(
            _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(y + i + 16)), sel), 0xD8);
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(y + i + 16), _mm256_permute2x128_si256(a, b, 0x31));
    }
}

/* Nibble order (values_quad_i16's for 4-bit codes: per 16, the 8 even elements, then the 8 odd) back to
 * natural, in place. */
static void nibble_to_natural(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b); /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        _mm256_storeu_ps(x + i, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(x + i + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

/* Integer dot products over group g (gs codes from g * gs) of the rows c0, c1 (at the quad's first kv
 * head; 8-bit codes, or 4-bit ones packed) with a quad's int16 queries x[i * hd] (i < 4; in nibble order
 * for 4 bits), QG queries to a head (the heads hb bytes apart): lane 4j + i = query i . row j, row 0's
 * four then row 1's. */
INLINE __m256i dots_rows(const uint8_t *c0, const uint8_t *c1, const int16_t *x, int hd, int g, int gs, int bits,
                         int QG, size_t hb)
{
    __m256i a[8];
    for (int j = 0; j < 8; j++)
        a[j] = _mm256_setzero_si256();
    for (int d = g * gs; d < (g + 1) * gs; d += 32) {
        __m256i k0, k1, k2, k3; /* row 0's 32 codes in two vectors, row 1's */
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            if (i % QG == 0) { /* the head of queries i .. i + QG - 1 */
                const uint8_t *h0 = c0 + i / QG * hb, *h1 = c1 + i / QG * hb;
                if (bits == 8) {
                    k0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h0 + d)));
                    k1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h0 + d + 16)));
                    k2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h1 + d)));
                    k3 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h1 + d + 16)));
                } else { /* words of packed bytes: the low nibble is the even code, the high one the odd */
                    const __m256i low = _mm256_set1_epi16(15);
                    const __m256i w0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h0 + d / 2)));
                    const __m256i w1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(h1 + d / 2)));
                    k0 = _mm256_and_si256(w0, low);
                    k1 = _mm256_srli_epi16(w0, 4);
                    k2 = _mm256_and_si256(w1, low);
                    k3 = _mm256_srli_epi16(w1, 4);
                }
                in_register(k0);
                in_register(k1);
                in_register(k2);
                in_register(k3);
            }
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(x + i * hd + d));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(x + i * hd + d + 16));
            in_register(y0);
            in_register(y1);
            add_to(&a[i], _mm256_madd_epi16(y0, k0));
            add_to(&a[i], _mm256_madd_epi16(y1, k1));
            add_to(&a[4 + i], _mm256_madd_epi16(y0, k2));
            add_to(&a[4 + i], _mm256_madd_epi16(y1, k3));
        }
    }
    return hsum8x8_epi32(a);
}

/* Where block_scalars puts kv head h's group g (of G) in a row: head-major as stored, or group-major
 * where a quad spans heads (QG < 4), so that its heads' scalars of one group lie together. */
INLINE int scalar_at(int h, int g, int heads, int G, int QG) { return QG < 4 ? g * heads + h : h * G + g; }

/* Scales or biases of rows [p0, p0 + nb) (the heads * G at each row's start) as f32, out[p * heads * G +
 * scalar_at(h, g)]. */
static void block_scalars(const void *src, int64_t sb_ld, enum mlxc_dtype sdt, int64_t p0, int nb, int heads, int G,
                          int QG, float *out)
{
    const int hG = heads * G;
    for (int p = 0; p < nb; p++) {
        const int64_t e0 = (p0 + p) * sb_ld;
        float row[MAX_HG] __attribute__((aligned(32)));
        float *o = QG < 4 && G > 1 ? row : out + p * hG; /* group-major: through row */
        int e = 0;
        for (; e + 8 <= hG; e += 8)
            _mm256_storeu_ps(o + e, load8(src, e0 + e, sdt));
        for (; e < hG; e++)
            o[e] = mlxc_load_scalar(src, e0 + e, sdt);
        if (o == row)
            for (int h = 0; h < heads; h++)
                for (int g = 0; g < G; g++)
                    out[p * hG + g * heads + h] = row[h * G + g];
    }
}

/* A quad's four lanes of scalars at x (block_scalars' place of its first head and a group): QG = 1, four
 * heads'; 2, two heads' twice each; 4, one head's. */
INLINE __m128 quad_scalars(const float *x, int QG)
{
    if (QG == 1)
        return _mm_loadu_ps(x);
    if (QG == 2) {
        const __m128 t = _mm_castpd_ps(_mm_load_sd((const double *)x));
        return _mm_unpacklo_ps(t, t);
    }
    return _mm_broadcast_ss(x);
}

/* quad_scalars of row x in the low four lanes, of row x + next in the high four. */
INLINE __m256 two_rows(const float *x, int64_t next, int QG)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(quad_scalars(x, QG)), quad_scalars(x + next, QG), 1);
}

/* A quad's weights ws[(p * G + g) * 4 + i] (nb rows) rounded to int16 by step[g * 4 + i] (their largest over
 * the rows / 32767), two rows to an int32: wp[((p / 2) * G + g) * 4 + i] = row p's in the low half, row
 * p + 1's (0 past nb) in the high half, as vpmaddwd takes them with a pair of rows' codes. Where the step
 * is below 1e-30 (every weight below 3e-26, next to the 1 of the row at the running max) the weights are
 * 0: 1 / step could overflow. */
INLINE void weight_pairs(const float *ws, int nb, int G, const float *step, int32_t *wp)
{
    for (int g = 0; g < G; g++) {
        const __m128 st = _mm_loadu_ps(step + g * 4);
        const __m128 inv = _mm_and_ps(_mm_div_ps(_mm_set1_ps(1.0f), st), _mm_cmpgt_ps(st, _mm_set1_ps(1e-30f)));
        for (int p = 0; p < nb; p += 2) {
            const __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(ws + (p * G + g) * 4), inv));
            const __m128i b = p + 1 < nb ? _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(ws + ((p + 1) * G + g) * 4), inv))
                                         : _mm_setzero_si128();
            _mm_storeu_si128((__m128i *)(wp + ((p / 2) * G + g) * 4),
                             _mm_or_si128(_mm_and_si128(a, _mm_set1_epi32(0xFFFF)), _mm_slli_epi32(b, 16)));
        }
    }
}

/* The codes of dimensions d..d+15 of rows r0 and r1 as int16 pairs (row 0's, row 1's) per dimension: lo
 * for 8 dimensions and hi for the other 8 (8 bits: d..d+7 and d+8..d+15; 4 bits, nibble order: the even
 * dimensions d, d+2, ..., d+14 and the odd ones). */
INLINE void code_pairs(const uint8_t *r0, const uint8_t *r1, int d, int bits, __m256i *lo, __m256i *hi)
{
    if (bits == 8) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(r0 + d)), y = _mm_loadu_si128((const __m128i *)(r1 + d));
        *lo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x, y));
        *hi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x, y));
    } else { /* bytes of the two rows interleaved, widened: each word's low nibble an even code, high nibble odd */
        const __m256i w = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(r0 + d / 2)),
                                                                  _mm_loadl_epi64((const __m128i *)(r1 + d / 2))));
        *lo = _mm256_and_si256(w, _mm256_set1_epi16(15));
        *hi = _mm256_srli_epi16(w, 4);
    }
}

/* values_quad (core/att_avx2.h) in integers: o[i * hd + d] = alpha[i] o[i * hd + d] + bias[g * 4 + i] +
 * step[g * 4 + i] * sum_p w16(g, i, p) * code_p[d] for the quad's 4 outputs (hd apart), the weights as
 * weight_pairs leaves them, two rows per vpmaddwd (int32 sums: 32 rows of 32767 * 255 stay below 2^31).
 * Rows nb of them at v (the quad's first kv head; QG queries to a head, the heads hb bytes apart), rb
 * bytes apart; outputs in code_pairs' order. The first `lines` passes over 16 dimensions also prefetch a
 * line per row at pf bytes from it (the next block's keys): pass t the quad's line t. */
INLINE void values_quad_i16(const uint8_t *v, size_t rb, int nb, const int32_t *wp, int hd, int gs, float *o,
                            const float *alpha, const float *bias, const float *step, ptrdiff_t pf, int lines,
                            int bits, int QG, size_t hb)
{
    const int G = hd / gs;
    for (int d = 0; d < hd; d += 16) {
        __m256i acc[4][2];
        for (int i = 0; i < 4; i++)
            acc[i][0] = acc[i][1] = _mm256_setzero_si256();
        const uint8_t *r = v;
        const int32_t *w = wp + (d / gs) * 4;
        const ptrdiff_t line = pf + d / 16 * 64;
        for (int p = 0; p < nb; p += 2, r += 2 * rb, w += 4 * G) {
            const uint8_t *r1 = p + 1 < nb ? r + rb : r; /* past nb: weight 0 */
            if (d / 16 < lines) {
                _mm_prefetch((const char *)r + line, _MM_HINT_T0);
                _mm_prefetch((const char *)r1 + line, _MM_HINT_T0);
            }
            __m256i lo, hi;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                if (i % QG == 0) { /* the head of queries i .. i + QG - 1 */
                    code_pairs(r + i / QG * hb, r1 + i / QG * hb, d, bits, &lo, &hi);
                    in_register(lo);
                    in_register(hi);
                }
                const __m256i x = _mm256_set1_epi32(w[i]);
                add_to(&acc[i][0], _mm256_madd_epi16(x, lo));
                add_to(&acc[i][1], _mm256_madd_epi16(x, hi));
            }
        }
        const int g = d / gs;
        for (int i = 0; i < 4; i++) {
            const __m256 al = _mm256_broadcast_ss(alpha + i), bs = _mm256_broadcast_ss(bias + g * 4 + i);
            const __m256 st = _mm256_broadcast_ss(step + g * 4 + i);
            for (int t = 0; t < 2; t++) {
                float *y = o + i * hd + d + 8 * t;
                _mm256_storeu_ps(y, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][t]), st,
                                                    _mm256_fmadd_ps(_mm256_loadu_ps(y), al, bs)));
            }
        }
    }
}

/* Whether decode_q takes these rows (else the two passes do). */
static int decode_handled(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int nq, int group, int hd,
                          int QG)
{
    const int G = hd / k->gs, np = nq / group * quad_rows(group, QG);
    return (k->bits == 4 || k->bits == 8) && v->bits == k->bits && v->gs == k->gs && v->codes_ld == k->codes_ld &&
           v->sb_ld == k->sb_ld && v->sdt == k->sdt && k->gs % 32 == 0 && k->gs <= 128 && hd % k->gs == 0 &&
           hd <= DECODE_HD && np <= DECODE_QUERIES && np * hd <= QUERY_CODES && np / 4 * G <= QUAD_GROUPS &&
           nq / group * G <= MAX_HG;
}

/* att_decode_q in one pass over the rows, in blocks of block_rows rows, as decode_all in kernels_att_avx2.c:
 * per block, the scores of every query (integer dot products per group, then scale and bias, into sb: a row
 * of queries per key row), folded into the running softmax, then the values. A quad's values use
 * weights times each row's scale (ws) and add sum_p w_p * bias_p per group once (the bias argument of
 * values_quad_i16). Quads of QG queries to a kv head: 4, a head's queries, padded to gp, a multiple of 4,
 * once per call (the padding rows copies of the head's first query, their results dropped); 1 or 2
 * (group = QG, heads a multiple of 4 / QG), those of 4 or 2 heads, so that no arithmetic is padding. The
 * prefetches go a phase ahead at fixed offsets, as in decode_all: the block's values during its scores
 * (the lines of a quad's heads in each pair of rows), the next block's keys during the values. */
INLINE void decode_q(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int64_t n, const float *q, int nq,
                     int group, int hd, int bits, int gs, float scale, float softcap, float *m, float *l, float *out,
                     int QG)
{
    const int G = hd / gs, heads = nq / group, hG = heads * G, HQ = QG < 4 ? 4 / QG : 1; /* HQ: heads a quad spans */
    const int gp = quad_rows(group, QG), np = heads * gp;
    const size_t rb = k->codes_ld, head_bytes = (size_t)hd * bits / 8, span = (size_t)heads * head_bytes;
    const int lines = (int)((HQ * head_bytes + 63) / 64); /* of a quad's heads in a row */
    const int64_t rows = block_rows(span);
    const ptrdiff_t kv = v->codes - k->codes;
    const uint8_t *kc = k->codes, *vc = v->codes;
    float qp[QUERY_CODES] __attribute__((aligned(32))), pad[QUERY_CODES] __attribute__((aligned(32)));
    const float *qq = q;
    float *op = out;
    if (gp != group) { /* whole quads: each head's rows padded with its first */
        pad_queries(q, heads, group, gp, hd, qp);
        qq = qp;
        op = pad;
    }
    int16_t q16[QUERY_CODES] __attribute__((aligned(32)));
    float step[QUAD_GROUPS], sum[QUAD_GROUPS];
    round_queries(qq, 0, np, hd, gs, q16, step, sum);
    if (bits == 4)
        nibble_order_i16(q16, (int64_t)np * hd);
    /* per quad and group, lanes as dots_rows's: scale * step and scale * sum of the quad's queries */
    float qst[QUAD_GROUPS * 8] __attribute__((aligned(32))), qsu[QUAD_GROUPS * 8] __attribute__((aligned(32)));
    for (int j = 0; j < np / 4; j++)
        for (int g = 0; g < G; g++)
            for (int t = 0; t < 8; t++) {
                qst[(j * G + g) * 8 + t] = scale * step[(4 * j + t % 4) * G + g];
                qsu[(j * G + g) * 8 + t] = scale * sum[(4 * j + t % 4) * G + g];
            }
    struct online_softmax os;
    float sc[MAX_BLOCK_ROWS * MAX_HG], bi[MAX_BLOCK_ROWS * MAX_HG]; /* the block's keys', then values' */
    /* a quad's weights [row][group][query], biases and steps [group][query], int16 weight pairs
     * [pair][group][query] */
    float ws[MAX_BLOCK_ROWS * MAX_G * 4], bias[MAX_G * 4], vstep[MAX_G * 4];
    int32_t wp[MAX_BLOCK_ROWS / 2 * MAX_G * 4];
    online_start(&os, np, rows);
    const int64_t ld = os.ld;
    float *sb = os.sb; /* the block's scores: a row of queries per key row (row nb: a sink for an odd last row) */
    memset(op, 0, (size_t)np * (size_t)hd * sizeof *op);
    for (int64_t p0 = 0; p0 < n; p0 += rows) {
        const int nb = (int)(n - p0 < rows ? n - p0 : rows);
        const uint8_t *kb = kc + (size_t)p0 * rb, *vb = vc + (size_t)p0 * rb;
        block_scalars(k->scales, k->sb_ld, k->sdt, p0, nb, heads, G, QG, sc);
        block_scalars(k->biases, k->sb_ld, k->sdt, p0, nb, heads, G, QG, bi);
        for (int pl = 0; pl < nb; pl += 2) { /* a last odd row goes as a pair with itself */
            const uint8_t *r0 = kb + (size_t)pl * rb, *r1 = pl + 1 < nb ? r0 + rb : r0;
            const int64_t next = pl + 1 < nb ? hG : 0;
            const int16_t *x = q16;
            float *si = sb + pl * ld;
            for (int h = 0, j = 0; h < heads; h += HQ) {
                const size_t off = (size_t)h * head_bytes; /* of the quad's first kv head */
                for (int i = 0; i < lines; i++) {
                    _mm_prefetch((const char *)r0 + kv + off + 64 * i, _MM_HINT_T0);
                    _mm_prefetch((const char *)r1 + kv + off + 64 * i, _MM_HINT_T0);
                }
                for (int i = 0; i < HQ * gp; i += 4, j++, x += 4 * hd, si += 4) {
                    __m256 s = _mm256_setzero_ps();
                    for (int g = 0; g < G; g++) { /* s += dot * scale * step * row scale + scale * sum * row bias */
                        const __m256i d = dots_rows(r0 + off, r1 + off, x, hd, g, gs, bits, QG, head_bytes);
                        const int64_t e = (int64_t)pl * hG + scalar_at(h, g, heads, G, QG);
                        const __m256 st = _mm256_load_ps(qst + (j * G + g) * 8);
                        const __m256 su = _mm256_load_ps(qsu + (j * G + g) * 8);
                        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(st, two_rows(sc + e, next, QG)),
                                            _mm256_fmadd_ps(su, two_rows(bi + e, next, QG), s));
                    }
                    _mm_storeu_ps(si, _mm256_castps256_ps128(s));
                    _mm_storeu_ps(si + ld, _mm256_extractf128_ps(s, 1));
                }
            }
        }
        online_block(&os, nb, softcap);
        block_scalars(v->scales, v->sb_ld, v->sdt, p0, nb, heads, G, QG, sc);
        block_scalars(v->biases, v->sb_ld, v->sdt, p0, nb, heads, G, QG, bi);
        /* during the values, the next block's keys (the last block: its own, already read) */
        const ptrdiff_t pf = (p0 + rows < n ? kb + rows * rb : kb) - vb;
        for (int h = 0; h < heads; h += HQ)
            for (int i0 = h * gp; i0 < (h + HQ) * gp; i0 += 4) {
                __m128 bsum[MAX_G], top[MAX_G];
                for (int g = 0; g < G; g++)
                    bsum[g] = top[g] = _mm_setzero_ps();
                for (int p = 0; p < nb; p++) { /* ws = w * row scale (and its largest); bsum += w * row bias */
                    const __m128 w4 = _mm_loadu_ps(sb + p * ld + i0);
                    for (int g = 0; g < G; g++) {
                        const int64_t e = (int64_t)p * hG + scalar_at(h, g, heads, G, QG);
                        const __m128 y = _mm_mul_ps(w4, quad_scalars(sc + e, QG));
                        _mm_storeu_ps(ws + (p * G + g) * 4, y);
                        top[g] = _mm_max_ps(top[g], _mm_andnot_ps(_mm_set1_ps(-0.0f), y));
                        bsum[g] = _mm_fmadd_ps(w4, quad_scalars(bi + e, QG), bsum[g]);
                    }
                }
                for (int g = 0; g < G; g++) {
                    _mm_storeu_ps(bias + g * 4, bsum[g]);
                    _mm_storeu_ps(vstep + g * 4, _mm_mul_ps(top[g], _mm_set1_ps(1.0f / 32767.0f)));
                }
                weight_pairs(ws, nb, G, vstep, wp);
                values_quad_i16(vb + (size_t)h * head_bytes, rb, nb, wp, hd, gs, op + (int64_t)i0 * hd, os.alpha + i0,
                                bias, vstep, pf, lines, bits, QG, head_bytes);
            }
    }
    if (bits == 4)
        nibble_to_natural(op, (int64_t)np * hd);
    online_end(&os, heads, group, gp, hd, op, m, l, out);
}

/* One body per code width, the common head and group sizes (64 and 64, 128 and 64; 0: any other) and QG,
 * so that the loops over a head's groups and dimensions and a quad's heads are constants the compiler
 * unrolls. */
#define DEFINE_DECODE_Q(SUFFIX, BITS, HD, GS, QG)                                                            \
    static void decode_q##SUFFIX##_g##QG(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v,      \
                                         int64_t n, const float *q, int nq, int group, int hd, float scale,  \
                                         float softcap, float *m, float *l, float *out)                      \
    {                                                                                                       \
        decode_q(k, v, n, q, nq, group, HD ? HD : hd, BITS, GS ? GS : k->gs, scale, softcap, m, l, out, QG); \
    }
#define DEFINE_DECODE_QS(SUFFIX, BITS, HD, GS)                                                              \
    DEFINE_DECODE_Q(SUFFIX, BITS, HD, GS, 1)                                                                \
    DEFINE_DECODE_Q(SUFFIX, BITS, HD, GS, 2)                                                                \
    DEFINE_DECODE_Q(SUFFIX, BITS, HD, GS, 4)
DEFINE_DECODE_QS(8_64_64, 8, 64, 64)
DEFINE_DECODE_QS(8_128_64, 8, 128, 64)
DEFINE_DECODE_QS(8_any, 8, 0, 0)
DEFINE_DECODE_QS(4_64_64, 4, 64, 64)
DEFINE_DECODE_QS(4_128_64, 4, 128, 64)
DEFINE_DECODE_QS(4_any, 4, 0, 0)

typedef void (*decode_q_fn)(const struct mlxc_qkv_rows *, const struct mlxc_qkv_rows *, int64_t, const float *, int,
                            int, int, float, float, float *, float *, float *);

/* [4 bits][head and group size: 64 and 64, 128 and 64, other][QG: 1, 2, 4] */
#define DECODE_Q_GS(SUFFIX) {decode_q##SUFFIX##_g1, decode_q##SUFFIX##_g2, decode_q##SUFFIX##_g4}
static const decode_q_fn decode_q_fns[2][3][3] = {
    {DECODE_Q_GS(8_64_64), DECODE_Q_GS(8_128_64), DECODE_Q_GS(8_any)},
    {DECODE_Q_GS(4_64_64), DECODE_Q_GS(4_128_64), DECODE_Q_GS(4_any)},
};

void mlxc_att_decode_q_avx2(const struct mlxc_qkv_rows *k, const struct mlxc_qkv_rows *v, int64_t n, const float *q,
                            int nq, int group, int hd, float scale, float softcap, float *scratch, float *m, float *l,
                            float *out)
{
    const int QG = quad_group(nq, group);
    if (decode_handled(k, v, nq, group, hd, QG))
        decode_q_fns[k->bits == 4][k->gs != 64 ? 2 : hd == 64 ? 0 : hd == 128 ? 1 : 2][QG == 4 ? 2 : QG - 1](
            k, v, n, q, nq, group, hd, scale, softcap, m, l, out);
    else
        mlxc_att_decode_q_two_pass(&mlxc_kernels_avx2, k, v, n, q, nq, group, hd, scale, softcap, scratch, m, l, out);
}
