/* AVX2 decode attention over an affine-quantized KV cache in two passes (att_scores_q, att_values_q in
 * core/kernels.h; decode in one pass over 4- and 8-bit rows is kernels_attq_decode_avx2.c). With value =
 * scale_g * code + bias_g in each group g of gs codes of a head,
 *   scores  q . k_p          = sum_g scale_pg * (q_g . codes_pg) + bias_pg * sum(q_g)
 *   values  sum_p w_p v_p[d] = sum_p (w_p * scale_pg) * codes_p[d] + sum_p w_p * bias_pg   (g: d's group)
 * which is the form of MLX's quantized_matmul.
 * Scores multiply integers: each query is rounded to int16 per group (step max|q_g| / 32767: every element
 * off by at most 2^-16 of its group's largest, far finer than the bf16 queries MLX multiplies with), and
 * vpmaddwd multiplies 16 codes by 16 query elements and adds the pairs, one instruction (plus an add) where
 * f32 takes two FMAs and a conversion. A group's int32 sums are exact: |sum| <= 128 * 255 * 32767 < 2^31.
 * Values convert each code to f32 once for the 4 queries of a quad and use FMAs.
 * Both take 8-bit codes in place, split 4-bit ones into a buffer (low nibble first) and unpack other
 * widths with mlxc_qunpack. The loops are those of kernels_att_avx2.c: quads of 4 queries of one kv
 * head, scores over 2 rows at a time with one hsum for the 8 results, values over blocks of rows that
 * stay in L1, prefetch cursors on the packed rows (core/att_avx2.h). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/attq_avx2.h"
#include "core/avx2_util.h"
#include "core/kernels.h"
#include "quant/qformat.h"

enum {
    ROW_BLOCK = 32,      /* scores: rows whose dot products are scaled together (32 KB of int32 for them) */
    ROW_CODES = 8192,    /* codes of one row (every kv head) the kernels take; larger rows go to the reference */
    CODE_BUF = 32768,    /* values: bytes of unpacked codes of one block of rows */
    BIAS_SUMS = 4096,    /* values: (query, group) bias sums of one call */
};

/* nc 4-bit codes (a multiple of 16) from src into bytes, in order. */
static void split_nibbles(const uint8_t *src, int64_t nc, uint8_t *dst)
{
    const __m256i low = _mm256_set1_epi8(0x0F);
    int64_t i = 0;
    for (; i + 64 <= nc; i += 64) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(src + i / 2));
        const __m256i lo = _mm256_and_si256(x, low), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
        /* per 128-bit lane: a = codes of bytes 0-7, b = of bytes 8-15 */
        const __m256i a = _mm256_unpacklo_epi8(lo, hi), b = _mm256_unpackhi_epi8(lo, hi);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_permute2x128_si256(a, b, 0x31));
    }
    for (; i < nc; i += 2) {
        dst[i] = src[i / 2] & 15;
        dst[i + 1] = src[i / 2] >> 4;
    }
}

/* Codes [c0, c0 + nc) of row p as bytes: 8-bit rows in place, others unpacked into buf. */
INLINE const uint8_t *row_codes(const struct mlxc_qkv_rows *r, int64_t p, int64_t c0, int64_t nc, uint8_t *buf)
{
    const uint8_t *packed = (const uint8_t *)r->codes + (size_t)p * r->codes_ld;
    if (r->bits == 8)
        return packed + c0;
    if (r->bits == 4)
        split_nibbles(packed + c0 / 2, nc, buf);
    else
        mlxc_qunpack(packed, c0, nc, r->bits, buf);
    return buf;
}

/* The queries of kv head h within [qa, qb). */
INLINE int head_start(int h, int group, int qa) { return h * group > qa ? h * group : qa; }
INLINE int head_end(int h, int group, int qb) { return (h + 1) * group < qb ? (h + 1) * group : qb; }

/* Integer dot products of group g (gs codes) of the two rows' codes c0, c1 (at their kv head) with a quad's
 * int16 queries x[0..3]: lane 2i + j = x[i] . row j over the group. */
INLINE __m256i dots_quad(const uint8_t *c0, const uint8_t *c1, const int16_t *const x[4], int g, int gs)
{
    __m256i a[8];
    for (int j = 0; j < 8; j++)
        a[j] = _mm256_setzero_si256();
    for (int d = g * gs; d < (g + 1) * gs; d += 16) {
        __m256i k0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c0 + d)));
        __m256i k1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c1 + d)));
        in_register(k0);
        in_register(k1);
        for (int i = 0; i < 4; i++) {
            __m256i y = _mm256_loadu_si256((const __m256i *)(x[i] + d));
            in_register(y);
            add_to(&a[2 * i], _mm256_madd_epi16(y, k0));
            add_to(&a[2 * i + 1], _mm256_madd_epi16(y, k1));
        }
    }
    return hsum8x8_epi32(a);
}

/* Scores of queries [qa, qb) (within the kv heads [qa / group, (qb - 1) / group]) over all n rows, in
 * blocks of ROW_BLOCK rows: first every quad's integer dot products per group over the block's pairs of
 * rows into dots, then per query and group, vectorized over the rows, the scales and biases applied. */
static void scores_pass(const struct mlxc_qkv_rows *k, int64_t n, const float *q, int qa, int qb, int group, int hd,
                        float scale, float *s, int64_t lds)
{
    const int gs = k->gs, G = hd / gs, h0 = qa / group, h1 = (qb - 1) / group + 1;
    const int64_t c0 = (int64_t)h0 * hd, nc = (int64_t)(h1 - h0) * hd;
    int16_t q16[QUERY_CODES] __attribute__((aligned(32)));
    float step[QUAD_GROUPS], sum[QUAD_GROUPS];
    round_queries(q, qa, qb, hd, gs, q16, step, sum);
    int quads = 0;
    for (int h = h0; h < h1; h++)
        quads += (head_end(h, group, qb) - head_start(h, group, qa) + 3) / 4;
    const size_t span = (size_t)(nc * k->bits / 8);
    const struct shares pair = shares_of(2 * row_lines(span), quads);
    struct prefetcher pf = prefetcher_at((const uint8_t *)k->codes + c0 * k->bits / 8 + PREFETCH_ROWS * k->codes_ld,
                                         k->codes_ld, span, n - PREFETCH_ROWS);
    uint8_t buf0[ROW_CODES], buf1[ROW_CODES];
    int32_t dots[QUAD_GROUPS * ROW_BLOCK] __attribute__((aligned(32))); /* [(query - qa) * G + group][row] */
    float sc[ROW_BLOCK] __attribute__((aligned(32))), bi[ROW_BLOCK] __attribute__((aligned(32)));
    for (int64_t p0 = 0; p0 < n; p0 += ROW_BLOCK) {
        const int nb = (int)(n - p0 < ROW_BLOCK ? n - p0 : ROW_BLOCK);
        for (int pl = 0; pl < nb; pl += 2) { /* a last odd row goes as a pair with itself */
            const int64_t p = p0 + pl, p1 = p + 1 < n ? p + 1 : p;
            const uint8_t *r0 = row_codes(k, p, c0, nc, buf0), *r1 = row_codes(k, p1, c0, nc, buf1);
            int j = 0; /* quads done for this pair of rows */
            for (int h = h0; h < h1; h++) {
                const int a = head_start(h, group, qa), b = head_end(h, group, qb);
                for (int i0 = a, m; i0 < b; i0 += m, j++) {
                    m = b - i0 < 4 ? b - i0 : 4;
                    prefetch_lines(&pf, share(pair, j));
                    const int16_t *x[4];
                    int32_t *t[4];
                    for (int i = 0; i < 4; i++) {
                        x[i] = q16 + (int64_t)(i0 + quad_row(i, m) - qa) * hd;
                        t[i] = dots + (i0 + quad_row(i, m) - qa) * G * ROW_BLOCK + pl;
                    }
                    for (int g = 0; g < G; g++) {
                        const __m256i d = dots_quad(r0 + (h - h0) * hd, r1 + (h - h0) * hd, x, g, gs);
                        /* lanes 2i, 2i + 1: query i's two rows; padded queries repeat query 0's */
                        const __m128i lo = _mm256_castsi256_si128(d), hi = _mm256_extracti128_si256(d, 1);
                        _mm_storel_epi64((__m128i *)(t[3] + g * ROW_BLOCK), _mm_unpackhi_epi64(hi, hi));
                        _mm_storel_epi64((__m128i *)(t[2] + g * ROW_BLOCK), hi);
                        _mm_storel_epi64((__m128i *)(t[1] + g * ROW_BLOCK), _mm_unpackhi_epi64(lo, lo));
                        _mm_storel_epi64((__m128i *)(t[0] + g * ROW_BLOCK), lo);
                    }
                }
            }
        }
        /* s[i][p] = scale * sum_g (step_ig * scale_pg * dot + sum_ig * bias_pg) */
        for (int h = h0; h < h1; h++)
            for (int g = 0; g < G; g++) {
                for (int p = 0; p < nb; p++) {
                    const int64_t e = (p0 + p) * k->sb_ld + (int64_t)h * G + g;
                    sc[p] = scale * mlxc_load_scalar(k->scales, e, k->sdt);
                    bi[p] = scale * mlxc_load_scalar(k->biases, e, k->sdt);
                }
                for (int i = head_start(h, group, qa); i < head_end(h, group, qb); i++) {
                    const int32_t *t = dots + ((i - qa) * G + g) * ROW_BLOCK;
                    const float st = step[(i - qa) * G + g], su = sum[(i - qa) * G + g];
                    float *si = s + (int64_t)i * lds + p0;
                    const __m256 stv = _mm256_set1_ps(st), suv = _mm256_set1_ps(su);
                    int p = 0;
                    for (; p + 8 <= nb; p += 8) {
                        const __m256 dv = _mm256_cvtepi32_ps(_mm256_load_si256((const __m256i *)(t + p)));
                        __m256 v = _mm256_fmadd_ps(_mm256_mul_ps(dv, stv), _mm256_load_ps(sc + p),
                                                   _mm256_mul_ps(suv, _mm256_load_ps(bi + p)));
                        if (g > 0)
                            v = _mm256_add_ps(v, _mm256_loadu_ps(si + p));
                        _mm256_storeu_ps(si + p, v);
                    }
                    for (; p < nb; p++) {
                        const float v = (float)t[p] * st * sc[p] + su * bi[p];
                        si[p] = g > 0 ? si[p] + v : v;
                    }
                }
            }
    }
}

/* Whether the kernels below take these rows (else the reference does). */
static int handled(const struct mlxc_qkv_rows *r, int nq, int group, int hd)
{
    return hd % 16 == 0 && hd <= MAX_HD && r->gs % 32 == 0 && r->gs <= 128 && (int64_t)(nq / group) * hd <= ROW_CODES &&
           (int64_t)nq * (hd / r->gs) <= BIAS_SUMS;
}

void mlxc_att_scores_q_avx2(const struct mlxc_qkv_rows *k, int64_t n, const float *q, int nq, int group, int hd,
                            float scale, float *s, int64_t lds)
{
    if (!handled(k, nq, group, hd)) {
        mlxc_kernels_ref.att_scores_q(k, n, q, nq, group, hd, scale, s, lds);
        return;
    }
    /* passes of whole kv heads where a head's queries fit, else runs of queries within a head; a pass's
     * (query, group) pairs also fit QUAD_GROUPS */
    const int fit = QUERY_CODES / hd, G = hd / k->gs;
    const int per_pass = fit < QUAD_GROUPS / G ? fit : QUAD_GROUPS / G; /* queries */
    const int heads = nq / group;
    if (group <= per_pass)
        for (int h = 0, per = per_pass / group; h < heads; h += per)
            scores_pass(k, n, q, h * group, (h + per < heads ? h + per : heads) * group, group, hd, scale, s, lds);
    else
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < group; i += per_pass)
                scores_pass(k, n, q, h * group + i, h * group + (i + per_pass < group ? i + per_pass : group), group,
                            hd, scale, s, lds);
}

/* For a quad's weight rows w[0..3] (nb of them) and one group's scales sc[p] and biases bi[p] of the block's
 * rows: ws[i * MAX_BLOCK_ROWS + p] = w[i][p] * sc[p], and bias[i] += sum_p w[i][p] * bi[p]. */
INLINE void scale_weights(const float *const w[4], int m, int nb, const float *sc, const float *bi, float *ws,
                          float *const bias[4])
{
    for (int i = 0; i < 4; i++) {
        __m256 acc = _mm256_setzero_ps();
        int p = 0;
        for (; p + 8 <= nb; p += 8) {
            const __m256 x = _mm256_loadu_ps(w[i] + p);
            _mm256_storeu_ps(ws + i * MAX_BLOCK_ROWS + p, _mm256_mul_ps(x, _mm256_loadu_ps(sc + p)));
            acc = _mm256_fmadd_ps(x, _mm256_loadu_ps(bi + p), acc);
        }
        float b = hsum(acc);
        for (; p < nb; p++) {
            ws[i * MAX_BLOCK_ROWS + p] = w[i][p] * sc[p];
            b += w[i][p] * bi[p];
        }
        if (i < m)
            *bias[i] += b;
    }
}

void mlxc_att_values_q_avx2(const struct mlxc_qkv_rows *v, int64_t n, const float *w, int nq, int group,
                            int64_t lds, int hd, float *out)
{
    if (!handled(v, nq, group, hd)) {
        mlxc_kernels_ref.att_values_q(v, n, w, nq, group, lds, hd, out);
        return;
    }
    const int gs = v->gs, G = hd / gs, heads = nq / group;
    const int64_t nc = (int64_t)heads * hd; /* codes of a row */
    int64_t rows = block_rows((size_t)nc);
    while (v->bits != 8 && rows > 1 && rows * nc > CODE_BUF)
        rows--;
    const int64_t quads = (int64_t)heads * ((group + 3) / 4);
    const size_t span = (size_t)(nc * v->bits / 8);
    const struct shares block = shares_of(rows * row_lines(span), quads);
    struct prefetcher pf = prefetcher_at((const uint8_t *)v->codes + rows * v->codes_ld, v->codes_ld, span, n - rows);
    uint8_t buf[CODE_BUF];
    float ws[4 * MAX_BLOCK_ROWS * (MAX_HD / 32)] __attribute__((aligned(32))); /* [group][query][row] */
    float sc[(MAX_HD / 32) * MAX_BLOCK_ROWS], bi[(MAX_HD / 32) * MAX_BLOCK_ROWS]; /* one head's, [group][row] */
    float bias[BIAS_SUMS]; /* (query, group): sum_p w_p * bias_pg */
    memset(out, 0, (size_t)nq * (size_t)hd * sizeof *out);
    memset(bias, 0, (size_t)nq * (size_t)G * sizeof *bias);
    for (int64_t p0 = 0; p0 < n; p0 += rows) {
        const int nb = (int)(n - p0 < rows ? n - p0 : rows);
        const uint8_t *c = (const uint8_t *)v->codes + (size_t)p0 * v->codes_ld;
        size_t cld = v->codes_ld;
        if (v->bits != 8) { /* the block's codes unpacked, rows nc bytes apart */
            for (int p = 0; p < nb; p++)
                row_codes(v, p0 + p, 0, nc, buf + (int64_t)p * nc);
            c = buf;
            cld = (size_t)nc;
        }
        int64_t j = 0; /* quads done in this block */
        for (int h = 0; h < heads; h++) {
            for (int g = 0; g < G; g++)
                for (int p = 0; p < nb; p++) {
                    const int64_t e = (p0 + p) * v->sb_ld + (int64_t)h * G + g;
                    sc[g * MAX_BLOCK_ROWS + p] = mlxc_load_scalar(v->scales, e, v->sdt);
                    bi[g * MAX_BLOCK_ROWS + p] = mlxc_load_scalar(v->biases, e, v->sdt);
                }
            for (int i = 0; i < group; i += 4) {
                const int i0 = h * group + i, m = group - i < 4 ? group - i : 4;
                const float *wr[4];
                float *o[4];
                for (int r = 0; r < 4; r++) {
                    wr[r] = w + (int64_t)(i0 + quad_row(r, m)) * lds + p0;
                    o[r] = out + (int64_t)(i0 + quad_row(r, m)) * hd;
                }
                for (int g = 0; g < G; g++) {
                    float *const bs[4] = {&bias[i0 * G + g], &bias[(i0 + quad_row(1, m)) * G + g],
                                          &bias[(i0 + quad_row(2, m)) * G + g], &bias[(i0 + quad_row(3, m)) * G + g]};
                    scale_weights(wr, m, nb, sc + g * MAX_BLOCK_ROWS, bi + g * MAX_BLOCK_ROWS,
                                  ws + g * 4 * MAX_BLOCK_ROWS, bs);
                }
                values_quad(c + (size_t)h * hd, cld, nb, ws, hd, gs, o, &pf, shares_of(share(block, j++), hd / 16),
                            MLXC_U8);
            }
        }
    }
    for (int i = 0; i < nq; i++)
        for (int d = 0; d < hd; d++)
            out[(int64_t)i * hd + d] += bias[i * G + d / gs];
}
